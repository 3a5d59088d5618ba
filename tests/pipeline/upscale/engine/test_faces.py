"""Face pipeline on real photos: detection, alignment geometry, restore + paste-back.

GFPGAN runs with random weights (no offline copy of the official file exists): these tests pin the
plumbing (where faces are found, where pixels change, what stays bit-identical), not the looks.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from pipeline.upscale.engine.faces import FaceDetector, FaceRestorer
from pipeline.upscale.engine.faces.align import (
    FACE_SIZE,
    FFHQ_TEMPLATE_512,
    crop_face,
    estimate_affine,
    face_region,
    face_to_output,
    paste_face,
)
from pipeline.upscale.engine.gfpgan_arch import GFPGANv1Clean


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def restorer(detector: FaceDetector) -> FaceRestorer:
    torch.manual_seed(0)
    return FaceRestorer(state_dict=GFPGANv1Clean().state_dict(), detector=detector)


def bicubic(image: np.ndarray, scale: float) -> np.ndarray:
    """Cheap stand-in for a Real-ESRGAN output."""
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / mse)


# --- detection ---------------------------------------------------------------------------------


def test_detects_the_astronaut(detector: FaceDetector) -> None:
    faces = detector.detect(data.astronaut())
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.9
    x1, y1, x2, y2 = face.box  # measured: (178, 57) - (273, 177), Eileen Collins' face
    assert 160 < x1 < 195 and 240 < x2 < 290 and 40 < y1 < 75 and 160 < y2 < 195
    left_eye, right_eye, nose, mouth_l, mouth_r = face.landmarks
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])
    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in face.landmarks)


def test_no_faces_in_coffee_or_flat_images(detector: FaceDetector) -> None:
    assert detector.detect(data.coffee()) == []
    assert detector.detect(np.full((300, 400, 3), 128, np.uint8)) == []
    assert detector.detect(np.zeros((0, 0, 3), np.uint8)) == []
    assert detector.detect(np.zeros((3, 2000, 3), np.uint8)) == []


def test_grayscale_and_rgba_inputs(detector: FaceDetector) -> None:
    camera = data.camera()  # grey (512, 512): the cameraman's face
    for image in (camera, camera[..., None]):
        faces = detector.detect(image)
        assert len(faces) == 1 and faces[0].score > 0.9
    rgba = np.dstack([data.astronaut(), np.full((512, 512), 255, np.uint8)])
    assert len(detector.detect(rgba)) == 1
    with pytest.raises(TypeError):
        detector.detect(data.astronaut().astype(np.float32))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((8, 8, 2), np.uint8))


def test_large_images_are_detected_downscaled(detector: FaceDetector) -> None:
    big = bicubic(data.astronaut(), 5)  # 2560² > max_side: detection runs at 2048²
    faces = detector.detect(big)
    assert len(faces) == 1
    at_2048 = detector.detect(cv2.resize(big, (2048, 2048), interpolation=cv2.INTER_AREA))[0]
    # landmarks map back to the big image's pixel centres: x = (x' + .5) * 1.25 - .5
    expected = (at_2048.landmarks + 0.5) * 1.25 - 0.5
    assert np.abs(faces[0].landmarks - expected).max() < 1e-3
    # and land where the face is at the original size (the model's own jitter aside)
    small = detector.detect(data.astronaut())[0]
    assert np.abs(faces[0].landmarks - ((small.landmarks + 0.5) * 5 - 0.5)).max() < 20


# --- alignment ---------------------------------------------------------------------------------


def test_alignment_puts_landmarks_on_the_template(detector: FaceDetector) -> None:
    face = detector.detect(data.astronaut())[0]
    affine = estimate_affine(face.landmarks)
    mapped = face.landmarks @ affine[:, :2].T + affine[:, 2]
    # a similarity cannot fit 5 points exactly: measured residuals 2-15 px (nose lower than FFHQ's)
    residual = np.linalg.norm(mapped - FFHQ_TEMPLATE_512, axis=1)
    assert residual.max() < 20 and residual.mean() < 15
    assert crop_face(data.astronaut(), affine).shape == (FACE_SIZE, FACE_SIZE, 3)


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_identity_paste_back_lands_on_the_same_pixels(detector: FaceDetector, scale: int) -> None:
    """Crop, then paste the unmodified crop: the region must match the upscaled input.

    Guards the inverse-affine geometry. With facexlib's s/2 offset instead of (s-1)/2 this
    measured 33.1 dB at x2 and 36.8 dB at x4 (vs 39.3 and 39.4).
    """
    image = data.astronaut()
    affine = estimate_affine(detector.detect(image)[0].landmarks)
    background = bicubic(image, scale)
    out = background.copy()
    paste_face(out, crop_face(image, affine), affine, scale, scale)
    changed = np.any(out != background, axis=2)
    assert changed.sum() > 10_000 * scale**2
    assert psnr(out[changed], background[changed]) > 38


# --- restore -----------------------------------------------------------------------------------


def test_restore_changes_only_the_face(restorer: FaceRestorer) -> None:
    image = data.astronaut()
    background = bicubic(image, 2)
    out = restorer.restore(image, background)
    assert out.shape == background.shape and out.dtype == np.uint8

    face = restorer.detect(image)[0]
    region = face_region(face_to_output(estimate_affine(face.landmarks), 2, 2), 1024, 1024)
    assert region is not None
    x0, y0, x1, y1 = region
    # the touched region is the 512² crop around the face: about 2x the detector's box
    bx1, by1, bx2, by2 = (2 * v for v in face.box)
    assert x0 > bx1 - (bx2 - bx1) and x1 < bx2 + (bx2 - bx1) and y0 > by1 - (by2 - by1)
    outside = np.ones(out.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], background[outside])  # bit for bit
    # the face itself was replaced (random weights: a flat grey patch)
    inner = (slice(int(by1) + 20, int(by2) - 20), slice(int(bx1) + 20, int(bx2) - 20))
    assert np.mean(out[inner] != background[inner]) > 0.9
    # a fixed noise: the same input restores to the same output
    assert np.array_equal(restorer.restore(image, background), out)


def test_restore_without_faces_returns_the_background(restorer: FaceRestorer) -> None:
    image = data.coffee()
    background = bicubic(image, 4)
    out = restorer.restore(image, background)
    assert np.array_equal(out, background) and out is not background


def test_restore_grayscale_input_any_scale(restorer: FaceRestorer) -> None:
    camera = data.camera()
    background = cv2.resize(np.dstack([camera] * 3), (700, 650), interpolation=cv2.INTER_CUBIC)
    out = restorer.restore(camera, background)
    assert out.shape == (650, 700, 3)
    changed = np.any(out != background, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 5_000
    # cameraman's face is at about (195-256, 114-195) of 512²: scaled by 700/512 x 650/512
    assert 150 < xs.mean() * 512 / 700 < 300 and 100 < ys.mean() * 512 / 650 < 220
    # grey background in, grey background out
    grey = restorer.restore(camera, bicubic(camera, 2))
    assert grey.shape == (1024, 1024) and np.any(grey != bicubic(camera, 2))
