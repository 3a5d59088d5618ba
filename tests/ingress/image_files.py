"""Image files for the ingress image tests, made in memory, plus the worker's two outcomes.

The worker itself (pipeline/upscale/image_jobs.py) is not running in these tests: where a
test needs a finished image it writes the result the way the worker does (``complete`` /
``fail``), so what is tested here is the API around it.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
from bson import ObjectId
from PIL import Image

from common.runtime import Runtime
from common.store.ids import utcnow
from tests.image_samples import b64, encode, png_chunk
from tests.ingress.conftest import SignedUp

ENHANCE = "/api/images/enhance"
INVALID = {"error": "Datos de imagen inválidos"}
NOT_FOUND = {"error": "Imagen no encontrada"}


def picture(width: int, height: int, fmt: str = "PNG", mode: str = "RGB", **options: Any) -> bytes:
    """A ``width``×``height`` gradient (compresses well, decodes exactly)."""
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    rgb = np.dstack(
        [
            np.tile(x, (height, 1)),
            np.tile(y[:, None], (1, width)),
            np.full((height, width), 128, np.uint8),
        ]
    )
    return encode(Image.fromarray(rgb).convert(mode), fmt, **options)


def noise_png(target_bytes: int, seed: int = 0) -> bytes:
    """A random-noise RGB PNG of about ``target_bytes`` (noise does not compress)."""
    side = int((target_bytes / 3) ** 0.5)
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels), "PNG", compress_level=1)


def with_orientation(width: int, height: int, orientation: int, fmt: str = "JPEG") -> bytes:
    """A ``width``×``height`` image whose EXIF says to rotate it (``orientation`` 1–8)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return picture(width, height, fmt, exif=exif.tobytes())


def png_with_late_exif(width: int, height: int, orientation: int) -> bytes:
    """A PNG whose ``eXIf`` chunk comes after the image data (legal; Pillow's lazy open
    stops before it)."""
    png = picture(width, height)
    exif = Image.Exif()
    exif[0x0112] = orientation
    body = exif.tobytes()
    end = png.rindex(b"IEND") - 4  # the IEND chunk's length field
    payload = body[6:] if body.startswith(b"Exif") else body
    return png[:end] + png_chunk(b"eXIf", payload) + png[end:]


async def submit(
    client: httpx.AsyncClient, who: SignedUp, raw: bytes, **fields: Any
) -> httpx.Response:
    return await client.post(
        ENHANCE, headers=who.headers, json={"image_base64": b64(raw), **fields}
    )


async def submitted_id(client: httpx.AsyncClient, who: SignedUp, raw: bytes, **fields: Any) -> str:
    response = await submit(client, who, raw, **fields)
    assert response.status_code == 202, response.text
    image_id: str = response.json()["image"]["id"]
    return image_id


async def complete(runtime: Runtime, image_id: str, result: bytes, **extra: Any) -> str:
    """Store ``result`` and mark the image completed, as the worker's final update does."""
    with Image.open(io.BytesIO(result)) as image:
        width, height = image.size
    blob = await runtime.store.blobs.put(
        result,
        filename=f"{image_id}.png",
        content_type="image/png",
        metadata={"image_id": ObjectId(image_id), "kind": "enhanced"},
    )
    fields = {
        "status": "completed",
        "enhanced_blob": blob,
        "enhanced_width": width,
        "enhanced_height": height,
        "processing_time_ms": 1234,
        "gpu_used": False,
        "completed_at": utcnow(),
        "updated_at": utcnow(),
        **extra,
    }
    await runtime.store.images.update_one({"_id": ObjectId(image_id)}, {"$set": fields})
    return blob


async def fail(runtime: Runtime, image_id: str, reason: str) -> None:
    await runtime.store.images.update_one(
        {"_id": ObjectId(image_id)},
        {
            "$set": {
                "status": "failed",
                "error_message": f"Error procesando imagen: {reason}",
                "updated_at": utcnow(),
            }
        },
    )
