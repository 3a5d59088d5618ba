"""Pixel budgets and the body limit: 413s decided from the header, EXIF orientation counted.

This module runs with small limits: 100×100 input pixels, 300×300 output pixels, 200 kB
bodies, and no waiting for a worker (accepted images answer 202 at once).
"""

from __future__ import annotations

import httpx
import pytest
from bson import ObjectId

from common.runtime import Runtime
from common.settings import Settings
from tests.image_samples import b64, png_header_claiming
from tests.ingress.conftest import SignedUp, make_settings
from tests.ingress.image_files import (
    ENHANCE,
    noise_png,
    picture,
    png_with_late_exif,
    submit,
    with_orientation,
)

MAX_INPUT = 100 * 100
MAX_OUTPUT = 300 * 300
MAX_BODY = 200_000
TOO_BIG_BODY = {"error": f"Solicitud demasiado grande: el máximo es {MAX_BODY} bytes"}


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        max_input_pixels=MAX_INPUT,
        max_output_pixels=MAX_OUTPUT,
        max_request_bytes=MAX_BODY,
        image_wait_seconds=0,
    )


async def stored_images(runtime: Runtime) -> int:
    return await runtime.store.images.count_documents({})


def input_too_large(width: int, height: int) -> dict[str, str]:
    return {"error": f"La imagen ({width}x{height}) supera el máximo de {MAX_INPUT} píxeles"}


def output_too_large(width: int, height: int) -> dict[str, str]:
    return {
        "error": f"La imagen de salida ({width}x{height}) supera el máximo de {MAX_OUTPUT} píxeles"
    }


async def test_an_input_over_the_budget_is_413(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    response = await submit(client, user, picture(101, 100), scale=1)
    assert (response.status_code, response.json()) == (413, input_too_large(101, 100))
    assert await stored_images(runtime) == 0


@pytest.mark.parametrize(
    ("width", "height"),
    # Within Pillow's own limit (so our budget speaks), past its warning, and far beyond its
    # error (Pillow refuses to open it; still a 413). None carries decodable data: decoding
    # would be a 400.
    [(5000, 5000), (10000, 10000), (50000, 50000)],
)
async def test_a_header_claiming_huge_sizes_is_413_without_decoding(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, width: int, height: int
) -> None:
    response = await submit(client, user, png_header_claiming(width, height))
    assert response.status_code == 413, response.text
    if width == 5000:
        assert response.json() == input_too_large(5000, 5000)
    else:
        assert response.json() == {"error": f"La imagen supera el máximo de {MAX_INPUT} píxeles"}
    assert await stored_images(runtime) == 0


@pytest.mark.parametrize(
    ("fields", "planned"),
    [
        ({}, (400, 400)),  # general_x4's default scale 4
        ({"scale": 4}, (400, 400)),
        ({"output_width": 301, "output_height": 300}, (301, 300)),
        ({"output_width": 600}, (600, 600)),  # the height follows the aspect ratio
    ],
)
async def test_a_planned_output_over_the_budget_is_413(
    client: httpx.AsyncClient,
    user: SignedUp,
    runtime: Runtime,
    fields: dict[str, int],
    planned: tuple[int, int],
) -> None:
    response = await submit(client, user, picture(100, 100), **fields)
    assert (response.status_code, response.json()) == (413, output_too_large(*planned))
    assert await stored_images(runtime) == 0


async def test_within_both_budgets_is_accepted(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    response = await submit(client, user, picture(100, 100), scale=3)  # 300×300 exactly
    assert response.status_code == 202, response.text
    assert await stored_images(runtime) == 1


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
async def test_exif_orientation_turns_the_size_the_budget_sees(
    client: httpx.AsyncClient, user: SignedUp, fmt: str
) -> None:
    # Stored 100×40 but to be shown rotated (orientation 6): the engine works on 40×100, so
    # output_width 300 means 300×750, over budget; unrotated it would be 300×120, within.
    rotated = with_orientation(100, 40, 6, fmt)
    response = await submit(client, user, rotated, output_width=300)
    assert (response.status_code, response.json()) == (413, output_too_large(300, 750))

    upright = with_orientation(100, 40, 1, fmt)
    response = await submit(client, user, upright, output_width=300)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("orientation", "shown"),
    [(1, (60, 20)), (3, (60, 20)), (5, (20, 60)), (6, (20, 60)), (8, (20, 60))],
)
async def test_original_sizes_are_after_orientation(
    client: httpx.AsyncClient, user: SignedUp, orientation: int, shown: tuple[int, int]
) -> None:
    response = await submit(client, user, with_orientation(60, 20, orientation), scale=2)
    assert response.status_code == 202, response.text
    image = response.json()["image"]
    assert (image["original_width"], image["original_height"]) == shown


async def test_a_png_exif_chunk_after_the_pixels_is_honoured(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    response = await submit(client, user, png_with_late_exif(60, 20, 8), scale=2)
    assert response.status_code == 202, response.text
    doc = await runtime.store.images.find_one({"_id": ObjectId(response.json()["image"]["id"])})
    assert doc is not None
    assert (doc["original_width"], doc["original_height"]) == (20, 60)


async def test_a_body_over_the_request_limit_is_413(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    raw = noise_png(MAX_BODY)  # about the limit in bytes: over it in base64 or multipart
    as_json = await client.post(ENHANCE, headers=user.headers, json={"image_base64": b64(raw)})
    assert (as_json.status_code, as_json.json()) == (413, TOO_BIG_BODY)
    as_form = await client.post(
        ENHANCE, headers=user.headers, files={"file": ("big.png", raw + raw, "image/png")}
    )
    assert (as_form.status_code, as_form.json()) == (413, TOO_BIG_BODY)
    assert await stored_images(runtime) == 0


@pytest.mark.parametrize(("fmt", "width", "limit"), [("webp", 16384, 16383),
                                                     ("jpeg", 65501, 65500)])
async def test_an_output_its_format_cannot_hold_is_400_before_storing(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime, fmt: str, width: int,
    limit: int,
) -> None:
    # Within the pixel budget (a 1-pixel-high strip), past what the format can be written at.
    response = await submit(client, user, picture(20, 20), output_format=fmt,
                            output_width=width, output_height=1)
    assert (response.status_code, response.json()) == (400, {"error": (
        f"La imagen de salida ({width}x1) supera el máximo de {limit} píxeles por lado del "
        f"formato {fmt.upper()}; use output_format png o un tamaño menor")})
    assert await stored_images(runtime) == 0
    assert await runtime.store.db["blobs.files"].count_documents({}) == 0


async def test_the_widest_output_a_format_holds_is_accepted(
    client: httpx.AsyncClient, user: SignedUp, runtime: Runtime
) -> None:
    response = await submit(client, user, picture(20, 20), output_format="webp",
                            output_width=16383, output_height=1)
    assert response.status_code == 202, response.text
