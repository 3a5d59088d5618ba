"""GFPGAN face restoration: RetinaFace detection, FFHQ alignment, GFPGANv1.4, feathered paste."""

from pipeline.upscale.engine.faces.align import FACE_SIZE, FFHQ_TEMPLATE_512
from pipeline.upscale.engine.faces.detect import Face, FaceDetector
from pipeline.upscale.engine.faces.restorer import FaceRestorer, load_gfpgan, unwrap_checkpoint

__all__ = [
    "FACE_SIZE",
    "FFHQ_TEMPLATE_512",
    "Face",
    "FaceDetector",
    "FaceRestorer",
    "load_gfpgan",
    "unwrap_checkpoint",
]
