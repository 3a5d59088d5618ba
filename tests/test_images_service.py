"""The image endpoints end to end: one suite, run on both deployments.

- ``embedded``: ``python main.py`` — API, in-process bus and every stage in one process, its
  own SecantusDB.
- ``distributed``: RabbitMQ plus ``python -m ingress`` and ``python -m pipeline.upscale`` as
  separate processes on one database.

Everything goes through HTTP, with real weights (``tests/image_models.py``) on small real
photos. The manual's Python example and the image part of its cURL script run verbatim.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import pytest

from tests.common.bus.support import delete_namespace, rabbitmq_reachable
from tests.distributed import distributed_env, distributed_service
from tests.embedded import embedded_service, manual_code_blocks, manual_models
from tests.image_models import MISSING_MODEL, OFFLINE_WEIGHTS, image_models, private_copy
from tests.image_samples import (
    b64,
    face_photo,
    gif,
    open_image,
    photo,
    png_header_claiming,
    rgba_photo,
    truncated_jpeg,
)
from tests.services import unavailable

__all__ = ["image_models"]  # the session fixture, imported so pytest finds it here

MANUAL_ACCOUNT = {"username": "miusuario", "email": "usuario@ejemplo.com",
                  "password": "mipassword123"}
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_INPUT_PIXELS = 512 * 512
MAX_OUTPUT_PIXELS = 2048 * 2048
INVALID = {"error": "Datos de imagen inválidos"}
NOT_FOUND = {"error": "Imagen no encontrada"}


class Running(Protocol):
    url: str

    def localize(self, text: str) -> str: ...

    def log_tails(self, chars: int = 1500) -> str: ...


@pytest.fixture(scope="module", params=["embedded",
                                        pytest.param("distributed", marks=pytest.mark.rabbitmq)])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            image_models: Path, mongo_url: str) -> Iterator[Running]:
    env = {
        "MODELS_DIR": "",
        "USE_GPU": "FALSE",
        "MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
        "MAX_INPUT_PIXELS": str(MAX_INPUT_PIXELS),
        "MAX_OUTPUT_PIXELS": str(MAX_OUTPUT_PIXELS),
        "IMAGE_WAIT_SECONDS": "150",
        **OFFLINE_WEIGHTS,
    }
    folder = tmp_path_factory.mktemp(request.param)
    env["MODELS_DIR"] = str(private_copy(image_models, folder))
    if request.param == "embedded":
        with embedded_service(folder, **env) as embedded:
            yield embedded
        return
    if not asyncio.run(rabbitmq_reachable()):
        unavailable("RabbitMQ")
    namespace = f"test-{uuid.uuid4().hex[:10]}"
    shared = distributed_env(mongo_url, f"images_{uuid.uuid4().hex[:8]}", namespace, folder,
                             BUS_DELIVERY_LIMIT="3", **env)
    try:
        with distributed_service(shared, folder, {"upscale": "pipeline.upscale"}) as deployed:
            yield deployed
    finally:
        asyncio.run(delete_namespace(namespace))


@pytest.fixture(scope="module")
def http(service: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=180) as client:
        yield client


def _login(http: httpx.Client, account: dict[str, str]) -> dict[str, str]:
    registered = http.post("/api/auth/register", json=account)
    assert registered.status_code == 201, registered.text
    login = http.post("/api/auth/login", json={"email": account["email"],
                                               "password": account["password"]})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}


@pytest.fixture(scope="module")
def alice(http: httpx.Client) -> dict[str, str]:
    """The manual's own account (its examples log in with it)."""
    return _login(http, MANUAL_ACCOUNT)


@pytest.fixture(scope="module")
def bob(http: httpx.Client) -> dict[str, str]:
    return _login(http, {"username": "bob", "email": "bob@ejemplo.com",
                         "password": "otropassword456"})


def enhance(http: httpx.Client, headers: dict[str, str], raw: bytes,
            **fields: Any) -> dict[str, Any]:
    """POST the manual's JSON; the ``image`` of a 201 (asserted)."""
    response = http.post("/api/images/enhance", headers=headers,
                         json={"image_base64": b64(raw), **fields})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["message"] == "Imagen procesada exitosamente"
    image: dict[str, Any] = body["image"]
    assert image["status"] == "completed" and image["error_message"] is None
    return image


def enhanced_pixels(image: dict[str, Any]) -> np.ndarray:
    picture = open_image(base64.b64decode(image["enhanced_base64"]))
    assert picture.format == "PNG"
    assert picture.size == (image["enhanced_width"], image["enhanced_height"])
    return np.asarray(picture)


def test_models_are_listed_without_auth(http: httpx.Client) -> None:
    response = http.get("/api/models")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 5 == len(body["models"])
    assert [m["id"] for m in body["models"]] == [
        "general_x4", "general_x2", "anime", "anime_video", "general_v3"]
    by_id = {m["id"]: m for m in body["models"]}
    for documented in manual_models():  # the manual's fields, then availability
        assert list(by_id[documented["id"]].items())[: len(documented)] == list(
            documented.items())
    # What this service's models folder holds (tests/image_models.py), as its worker reports.
    assert {m: (e["available"], e["weights"]) for m, e in by_id.items()} == {
        "general_x4": (True, "converted"), "anime": (True, "converted"),
        "anime_video": (True, "converted"), "general_x2": (True, "downloads on first use"),
        "general_v3": (True, "downloads on first use")}


def test_the_manuals_python_image_example_runs_verbatim(
    service: Running, alice: dict[str, str], tmp_path: Path
) -> None:
    (example,) = manual_code_blocks("python", "### Python")
    assert '"model_type": "anime"' in example and "imagen_mejorada.png" in example
    (tmp_path / "mi_imagen.jpg").write_bytes(photo(64, 36, "JPEG"))
    done = subprocess.run([sys.executable, "-c", service.localize(example)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr + service.log_tails(3000)
    assert done.stdout.splitlines() == [
        "Modelo: anime", "GPU usada: False", "Tamano final: 1920x1080", "Imagen guardada!"]
    saved = open_image((tmp_path / "imagen_mejorada.png").read_bytes())
    assert (saved.format, saved.size, saved.mode) == ("PNG", (1920, 1080), "RGB")


def test_the_manuals_curl_script_runs_verbatim(
    service: Running, alice: dict[str, str], tmp_path: Path
) -> None:
    if shutil.which("jq") is None:
        unavailable("jq (scripts/ensure-test-tools.sh installs it)")
    (script,) = manual_code_blocks("bash", "### cURL Script (Bash)")
    (tmp_path / "mi_imagen.jpg").write_bytes(photo(48, 27, "JPEG"))
    done = subprocess.run(["bash", "-c", service.localize(script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr + service.log_tails(3000)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Token obtenido: ey")
    assert lines[1:] == ["GPU usada: false", "Tamaño: 1920x1080", "Imagen mejorada guardada!"]
    saved = open_image((tmp_path / "imagen_mejorada.png").read_bytes())
    assert saved.size == (1920, 1080)


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({}, (160, 120)),  # general_x4's default scale 4
        ({"scale": 2}, (80, 60)),
        ({"output_width": 100}, (100, 75)),  # height follows the aspect ratio
        ({"output_height": 45}, (60, 45)),
        ({"output_width": 50, "output_height": 90, "scale": 3}, (50, 90)),  # both: exact
    ],
)
def test_output_size_rules(http: httpx.Client, alice: dict[str, str], fields: dict[str, int],
                           size: tuple[int, int]) -> None:
    image = enhance(http, alice, photo(40, 30), filename="cup.png", **fields)
    assert (image["enhanced_width"], image["enhanced_height"]) == size
    assert enhanced_pixels(image).shape == (size[1], size[0], 3)
    assert (image["original_width"], image["original_height"]) == (40, 30)
    assert image["model_type"] == "general_x4"
    assert image["scale"] == fields.get("scale", 4)
    assert image["output_width"] == fields.get("output_width")
    assert image["output_height"] == fields.get("output_height")
    assert image["gpu_used"] is False and image["processing_time_ms"] > 0
    assert base64.b64decode(image["original_base64"]) == photo(40, 30)


def test_alpha_survives_the_pipeline(http: httpx.Client, alice: dict[str, str]) -> None:
    raw, alpha = rgba_photo(32, 24)
    image = enhance(http, alice, raw, model_type="anime_video", scale=2)
    pixels = enhanced_pixels(image)
    assert pixels.shape == (48, 64, 4)
    # The ramp goes through the model like a picture (which sharpens it a little), so it comes
    # back as the same ramp: monotonic left to right, transparent to opaque, and averaging
    # each 2×2 block gives the original plane back within one step of the ramp (8.2 levels).
    plane = pixels[..., 3].astype(float)
    shrunk = plane.reshape(24, 2, 32, 2).mean(axis=(1, 3))
    assert np.corrcoef(shrunk.ravel(), alpha.ravel())[0, 1] > 0.995
    assert np.abs(shrunk - alpha).mean() < 255 / 31
    assert np.all(np.diff(plane.mean(axis=0)) >= 0)
    assert plane[:, :4].mean() < 20 and plane[:, -4:].mean() > 235


def test_face_enhance_restores_the_face_only(http: httpx.Client, alice: dict[str, str]) -> None:
    raw = face_photo(96)
    plain = enhance(http, alice, raw, model_type="anime_video", scale=2)
    restored = enhance(http, alice, raw, model_type="anime_video", scale=2, face_enhance=True)
    assert (plain["face_enhance"], restored["face_enhance"]) == (False, True)
    before, after = enhanced_pixels(plain).astype(int), enhanced_pixels(restored).astype(int)
    changed = np.abs(before - after).max(axis=2) > 8
    # The astronaut's face (centre) is replaced; the corners, far from it, are not touched
    # (at most one level of 8-bit rounding: the restorer works on 8-bit copies).
    assert changed[60:130, 60:130].mean() > 0.5
    for corner in (np.s_[:16, :16], np.s_[:16, -16:], np.s_[-16:, :16], np.s_[-16:, -16:]):
        assert np.abs(before[corner] - after[corner]).max() <= 1


def test_multipart_upload_of_the_same_fields(http: httpx.Client, alice: dict[str, str]) -> None:
    response = http.post(
        "/api/images/enhance", headers=alice,
        files={"file": ("cup.jpg", photo(40, 30, "JPEG"), "image/jpeg")},
        data={"model_type": "anime_video", "scale": "2", "output_width": "60"},
    )
    assert response.status_code == 201, response.text
    image = response.json()["image"]
    assert image["original_filename"] == "cup.jpg"
    assert (image["enhanced_width"], image["enhanced_height"]) == (60, 45)
    download = http.get(f"/api/images/{image['id']}/enhanced", headers=alice)
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert open_image(download.content).size == (60, 45)
    original = http.get(f"/api/images/{image['id']}/original", headers=alice)
    assert original.headers["content-type"] == "image/jpeg"
    assert original.content == photo(40, 30, "JPEG")


@pytest.mark.parametrize(
    ("fields", "status", "expected"),
    [
        ({"image_base64": "esto no es base64!"}, 400, INVALID),
        ({"image_base64": ""}, 400, INVALID),
        ({"image_base64": b64(b"just some text, not an image")}, 400, INVALID),
        ({"image_base64": b64(truncated_jpeg()), "filename": "cut.jpg"}, 400, INVALID),
        ({"image_base64": b64(gif()), "filename": "disguised.png"}, 400,
         {"error": "Formato no soportado: gif"}),
        ({"image_base64": b64(png_header_claiming(50000, 50000))}, 413, None),
        ({"image_base64": b64(photo(40, 30)), "output_width": 4000, "output_height": 4000},
         413, None),
        ({"image_base64": b64(photo(40, 30)), "model_type": "ultra_x8"}, 400, "model_type"),
        ({"image_base64": b64(photo(40, 30)), "scale": 7}, 400, "scale"),
        ({"image_base64": b64(photo(40, 30)), "scale": True}, 400, "scale"),
        ({"image_base64": b64(photo(40, 30)), "output_width": 0}, 400, "output_width"),
        ({"image_base64": b64(photo(40, 30)), "output_height": -5}, 400, "output_height"),
        ({"filename": "nothing.png"}, 400, "image_base64"),
        ({"image_base64": "A" * MAX_REQUEST_BYTES}, 413, None),
    ],
    ids=["not-base64", "empty", "not-an-image", "truncated-jpeg", "gif-named-png",
         "header-bomb", "output-budget", "model", "scale", "scale-bool", "width", "height",
         "missing", "body-limit"],
)
def test_bad_input_gets_the_manuals_error_and_stores_nothing(
    http: httpx.Client, bob: dict[str, str], fields: dict[str, Any], status: int,
    expected: dict[str, str] | str | None,
) -> None:
    response = http.post("/api/images/enhance", headers=bob, json=fields)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    if isinstance(expected, dict):
        assert body == expected
    elif isinstance(expected, str):
        assert expected in body["error"]
    else:
        assert "máximo" in body["error"]
    assert http.get("/api/images", headers=bob).json()["total"] == 0


def _weights(http: httpx.Client, model_type: str) -> str:
    models = http.get("/api/models").json()["models"]
    return str(next(m["weights"] for m in models if m["id"] == model_type))


def test_weights_that_cannot_be_had_are_a_503_and_the_worker_goes_on(
    http: httpx.Client, alice: dict[str, str]
) -> None:
    # No offline copy of general_x2's weights: the worker's real download fails, then the
    # worker reports the model missing and the API refuses the next request itself.
    command = ".venv/bin/python -m pipeline.upscale.engine.weights"
    first = http.post("/api/images/enhance", headers=alice,
                      json={"image_base64": b64(photo(40, 30)), "model_type": MISSING_MODEL})
    assert first.status_code == 503, first.text
    assert 1 <= int(first.headers["Retry-After"]) <= 300
    error = first.json()["error"]
    assert error.startswith("Error procesando imagen: Modelo general_x2 no disponible: faltan "
                            "sus pesos (RealESRGAN_x2plus.pth). Descárguelos con: "
                            f"{command} fetch general_x2")
    assert f"{command} import general_x2 ./RealESRGAN_x2plus.pth" in error
    failed = http.get("/api/images", headers=alice, params={"status": "failed"}).json()
    assert failed["total"] == 1
    (image,) = failed["images"]
    assert image["status"] == "failed" and image["error_message"] == error
    assert image["model_type"] == MISSING_MODEL and image["enhanced_width"] is None
    deadline = time.monotonic() + 15  # the worker's report follows within a second or two
    while _weights(http, MISSING_MODEL) != "missing":
        assert time.monotonic() < deadline, http.get("/api/models").text
        time.sleep(0.2)
    again = http.post("/api/images/enhance", headers=alice,
                      json={"image_base64": b64(photo(40, 30)), "model_type": MISSING_MODEL})
    assert (again.status_code, again.json()) == (503, {"error": error})
    assert http.get("/api/images", headers=alice,
                    params={"status": "failed"}).json()["total"] == 1, "refused, not stored"
    # The same worker serves the next job.
    assert enhance(http, alice, photo(40, 30), scale=1)["enhanced_width"] == 40


def test_another_users_image_is_not_found(
    http: httpx.Client, alice: dict[str, str], bob: dict[str, str]
) -> None:
    image = enhance(http, alice, photo(40, 30), model_type="anime_video", scale=1)
    path = f"/api/images/{image['id']}"
    for method, url in (("GET", path), ("DELETE", path), ("GET", f"{path}/original"),
                        ("GET", f"{path}/enhanced")):
        response = http.request(method, url, headers=bob)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), (method, url)
    listed = http.get("/api/images", headers=bob, params={"per_page": 100}).json()
    assert image["id"] not in {i["id"] for i in listed["images"]}
    assert http.get(path, headers=alice).status_code == 200  # B's DELETE removed nothing
    for malformed in ("not-an-id", "0" * 24):
        response = http.get(f"/api/images/{malformed}", headers=alice)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_list_get_and_delete(http: httpx.Client, alice: dict[str, str]) -> None:
    first = enhance(http, alice, photo(24, 24), model_type="anime_video", scale=1)
    second = enhance(http, alice, photo(32, 24), model_type="anime_video", scale=1,
                     filename="second.png")
    page = http.get("/api/images", headers=alice, params={"page": 1, "per_page": 2}).json()
    assert (page["page"], page["per_page"], len(page["images"])) == (1, 2, 2)
    assert [i["id"] for i in page["images"]] == [second["id"], first["id"]]  # newest first
    assert page["total"] >= 2
    for listed in page["images"]:
        assert "original_base64" not in listed and "enhanced_base64" not in listed
    done = http.get("/api/images", headers=alice, params={"status": "completed",
                                                          "per_page": 100}).json()
    assert {i["status"] for i in done["images"]} == {"completed"}

    got = http.get(f"/api/images/{second['id']}", headers=alice).json()["image"]
    assert got == second
    deleted = http.delete(f"/api/images/{second['id']}", headers=alice)
    assert deleted.status_code == 200 and "message" in deleted.json()
    for url in (f"/api/images/{second['id']}", f"/api/images/{second['id']}/original"):
        assert http.get(url, headers=alice).status_code == 404
    after = http.get("/api/images", headers=alice, params={"per_page": 100}).json()
    assert after["total"] == page["total"] - 1
    assert second["id"] not in {i["id"] for i in after["images"]}
