"""Alignment to the FFHQ 512² template and feathered paste-back (facexlib's FaceRestoreHelper).

Deliberate differences from facexlib, each a fix rather than a style choice:
- the paste-back offset is (s - 1) / 2 per axis, the exact map between pixel centres of the input
  and of an s-times larger image; facexlib adds s / 2, half an output pixel off;
- only the bounding rectangle of each warped face is touched, so pixels outside it are the
  background bit for bit (and a 4K frame is not warped whole once per face);
- the blend is rounded, not truncated: truncation darkens by 0.5 on average and turns pixels where
  the mask is a hair above 0 into background - 1;
- the background is never resized (the engine passes the model's output); the scale is derived
  from the two shapes, per axis.
"""

from __future__ import annotations

import cv2
import numpy as np

FACE_SIZE = 512
# facexlib's standard 5 landmarks of FFHQ faces at 512²: eyes, nose tip, mouth corners.
FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.1936],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float32,
)
# facexlib pads the crop with this grey (given there as BGR 135, 133, 132).
BORDER_RGB = (132, 133, 135)


def estimate_affine(landmarks: np.ndarray) -> np.ndarray:
    """2x3 similarity (rotation, uniform scale, shift) mapping the face's landmarks to the template.

    LMEDS as facexlib 0.3: robust to one badly placed landmark, deterministic (RANSAC is not).
    """
    matrix, _ = cv2.estimateAffinePartial2D(
        landmarks.astype(np.float32), FFHQ_TEMPLATE_512, method=cv2.LMEDS
    )
    if matrix is None:  # degenerate landmarks (all on one point)
        raise ValueError("cannot align face: degenerate landmarks")
    return matrix


def crop_face(rgb: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The aligned 512² face crop (bilinear, constant grey outside the image, as facexlib)."""
    return cv2.warpAffine(
        rgb, affine, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=BORDER_RGB,
    )  # fmt: skip


def face_to_output(affine: np.ndarray, scale_x: float, scale_y: float) -> np.ndarray:
    """2x3 map from crop pixels to background pixels (inverse alignment, then upscaling)."""
    inverse = cv2.invertAffineTransform(affine).astype(np.float64)
    inverse[0] *= scale_x
    inverse[1] *= scale_y
    inverse[:, 2] += ((scale_x - 1) / 2, (scale_y - 1) / 2)
    return inverse


def face_region(to_output: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """Clipped (x0, y0, x1, y1) rectangle of the background that the warped crop can touch."""
    corners = np.array([[-1, -1, 1], [FACE_SIZE, -1, 1], [-1, FACE_SIZE, 1], [FACE_SIZE] * 2 + [1]])
    pts = corners @ to_output.T
    # +2: bilinear footprint of the edge pixels and float rounding.
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return (int(x0), int(y0), int(x1), int(y1)) if x1 > x0 and y1 > y0 else None


def paste_face(
    background: np.ndarray, face: np.ndarray, affine: np.ndarray, scale_x: float, scale_y: float
) -> None:
    """Blend a restored 512² face into `background` (H, W, C) uint8 in place, feathered.

    `affine` is the alignment of the input image (`estimate_affine`); the background is the input
    scaled by (scale_x, scale_y). `face` has the background's colour channel count (3 or 1).
    """
    to_output = face_to_output(affine, scale_x, scale_y)
    h, w = background.shape[:2]
    region = face_region(to_output, h, w)
    if region is None:
        return
    x0, y0, x1, y1 = region
    shift = to_output.copy()
    shift[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(face, shift, size, flags=cv2.INTER_LINEAR).astype(np.float32)
    warped = warped.reshape(size[1], size[0], -1)
    mask = cv2.warpAffine(np.ones((FACE_SIZE, FACE_SIZE), np.float32), shift, size)

    # facexlib's feathering: erode away the interpolated (dark) rim of the warped crop, then shrink
    # the mask by an edge proportional to the face size and blur it over that same width.
    rim = max(1, int(2 * max(scale_x, scale_y)))
    mask = cv2.erode(mask, np.ones((rim, rim), np.uint8))
    warped *= mask[..., None]
    edge = int(float(mask.sum()) ** 0.5) // 20
    if edge > 0:
        mask = cv2.erode(mask, np.ones((2 * edge, 2 * edge), np.uint8))
        mask = cv2.GaussianBlur(mask, (2 * edge + 1, 2 * edge + 1), 0)
    mask = mask[..., None]

    roi = background[y0:y1, x0:x1]
    colour = roi[..., : warped.shape[2]]  # leaves an alpha channel alone
    blended = mask * warped + (1.0 - mask) * colour.astype(np.float32)
    colour[...] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
