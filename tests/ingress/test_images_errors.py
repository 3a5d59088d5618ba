"""POST /api/images/enhance refuses bad input with the manual's bodies, storing nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from PIL import Image

from common.runtime import Runtime
from tests.image_samples import b64, encode
from tests.ingress.conftest import SignedUp
from tests.ingress.image_files import ENHANCE, INVALID, picture, submit

GIF = encode(Image.new("P", (16, 16)), "GIF")
# HEIC needs a codec Pillow lacks; the ftyp box is all the sniffing reads.
_JPEG = picture(256, 256, "JPEG")
TRUNCATED_JPEG = _JPEG[: len(_JPEG) // 2]
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


@pytest.fixture(autouse=True)
async def nothing_stored(runtime: Runtime) -> Any:
    yield
    db = runtime.store.db
    assert await db["images"].count_documents({}) == 0
    assert await db["blobs.files"].count_documents({}) == 0
    assert await db["blobs.chunks"].count_documents({}) == 0


@pytest.mark.parametrize(
    "image_base64",
    [
        "",
        "   ",
        "%%% esto no es base64 %%%",
        "aGVsbG8",  # bad padding
        b64(b"hola mundo, no soy una imagen"),
        b64(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),  # a PNG signature over garbage
        # Cut in half: headers intact, so only the full decode can tell.
        b64(TRUNCATED_JPEG),
        b64(picture(256, 256)[:-30]),  # a PNG cut inside its image data
        "data:image/png;base64,",
        b64(b"<?xml version='1.0'?>" + b"<!-- a --> " * 400 + b"<html/>"),  # XML, not SVG
    ],
    ids=[
        "empty",
        "blank",
        "not-base64",
        "bad-padding",
        "text",
        "png-garbage",
        "truncated-jpeg",
        "truncated-png",
        "empty-data-url",
        "xml",
    ],
)
async def test_not_an_image_is_the_manuals_400(
    client: httpx.AsyncClient, user: SignedUp, image_base64: str
) -> None:
    response = await client.post(
        ENHANCE, headers=user.headers, json={"image_base64": image_base64, "filename": "a.png"}
    )
    assert (response.status_code, response.json()) == (400, INVALID)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (GIF, "gif"),
        (encode(Image.new("RGB", (8, 8)), "BMP"), "bmp"),
        (encode(Image.new("RGB", (8, 8)), "TIFF"), "tiff"),
        (encode(Image.new("RGB", (8, 8)), "AVIF"), "avif"),
        (HEIC, "heic"),
        (encode(Image.new("RGB", (8, 8)), "PPM"), "pnm"),
        (encode(Image.new("RGB", (8, 8)), "ICO"), "ico"),
        (
            b'<?xml version="1.0"?>\n<!-- dibujo -->\n<svg xmlns="http://www.w3.org/2000/svg"/>',
            "svg",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_other_formats_are_named_in_the_400(
    client: httpx.AsyncClient, user: SignedUp, raw: bytes, name: str
) -> None:
    # The filename claims PNG: the content decides.
    response = await submit(client, user, raw, filename="foto.png")
    assert (response.status_code, response.json()) == (
        400,
        {"error": f"Formato no soportado: {name}"},
    )


async def test_a_gif_named_png_is_refused_through_multipart_too(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    response = await client.post(
        ENHANCE, headers=user.headers, files={"file": ("x.png", GIF, "image/png")}
    )
    assert (response.status_code, response.json()) == (400, {"error": "Formato no soportado: gif"})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scale": 0}, "scale"),
        ({"scale": 5}, "scale"),
        ({"scale": True}, "scale"),
        ({"scale": "dos"}, "scale"),
        ({"scale": 2.5}, "scale"),
        ({"output_width": 0}, "output_width"),
        ({"output_width": -640}, "output_width"),
        ({"output_height": 0}, "output_height"),
        ({"output_height": False}, "output_height"),
        ({"output_width": 10**40}, "output_width"),
        ({"face_enhance": "quizás"}, "face_enhance"),
        ({"output_format": "gif"}, "output_format"),
        ({"filename": "x" * 300}, "filename"),
    ],
)
async def test_bad_fields_are_400s_naming_the_field(
    client: httpx.AsyncClient, user: SignedUp, fields: dict[str, Any], field: str
) -> None:
    response = await submit(client, user, picture(8, 8), **fields)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(f"Campo inválido '{field}': ")


async def test_an_unknown_model_is_a_400_naming_model_type(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    response = await submit(client, user, picture(8, 8), model_type="general_x8")
    assert response.status_code == 400
    message = response.json()["error"]
    assert message.startswith("model_type inválido: 'general_x8'")
    assert "general_x4, general_x2, anime, anime_video, general_v3" in message


async def test_bad_fields_through_multipart_name_the_field(
    client: httpx.AsyncClient, user: SignedUp
) -> None:
    files = {"image": ("a.png", picture(8, 8), "image/png")}
    response = await client.post(
        ENHANCE, headers=user.headers, files=files, data={"output_height": "-3"}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("Campo inválido 'output_height': ")


async def test_missing_pieces_are_400s(client: httpx.AsyncClient, user: SignedUp) -> None:
    no_field = await client.post(ENHANCE, headers=user.headers, json={"filename": "a.png"})
    assert no_field.status_code == 400
    assert no_field.json()["error"].startswith("Campo inválido 'image_base64': ")

    no_body = await client.post(ENHANCE, headers=user.headers, content=b"")
    assert (no_body.status_code, no_body.json()) == (
        400,
        {"error": "Cuerpo JSON requerido con image_base64"},
    )

    no_file = await client.post(
        ENHANCE, headers=user.headers, files={"other": ("a.png", b"x")}, data={"scale": "2"}
    )
    assert (no_file.status_code, no_file.json()) == (
        400,
        {"error": "Falta el archivo de imagen: campo 'file' (o 'image')"},
    )

    empty_file = await client.post(
        ENHANCE, headers=user.headers, files={"file": ("a.png", b"", "image/png")}
    )
    assert (empty_file.status_code, empty_file.json()) == (400, INVALID)

    wrong_type = await client.post(
        ENHANCE, headers={**user.headers, "Content-Type": "image/png"}, content=picture(8, 8)
    )
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"].startswith("Content-Type no soportado")


async def test_a_token_is_required(client: httpx.AsyncClient) -> None:
    response = await client.post(ENHANCE, json={"image_base64": b64(picture(8, 8))})
    assert (response.status_code, response.json()) == (
        401,
        {"error": "Token de autenticación requerido"},
    )
