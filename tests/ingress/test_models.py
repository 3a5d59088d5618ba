"""GET /api/models: public, five models, the manual's entries verbatim."""

from __future__ import annotations

import httpx

from common.models import public_listing
from tests.embedded import manual_models

# The two entries the manual prints, exactly as printed (parsed from the manual).
MANUAL_ENTRIES = manual_models()
# The manual's table: model_type → (name, default scale).
MANUAL_TABLE = {
    "general_x4": ("RealESRGAN_x4plus", 4),
    "general_x2": ("RealESRGAN_x2plus", 2),
    "anime": ("RealESRGAN_x4plus_anime_6B", 4),
    "anime_video": ("realesr-animevideov3", 4),
    "general_v3": ("realesr-general-x4v3", 4),
}


async def test_models_are_listed_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/models")
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["total", "models"]
    assert body["total"] == 5 == len(body["models"])
    assert body["models"] == public_listing()
    by_id = {entry["id"]: entry for entry in body["models"]}
    assert {k: (v["name"], v["default_scale"]) for k, v in by_id.items()} == MANUAL_TABLE
    for entry in MANUAL_ENTRIES:
        assert list(by_id[entry["id"]].items()) == list(entry.items())  # fields in order too


async def test_a_bad_token_does_not_matter_for_the_public_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/models", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200
    assert response.json()["total"] == 5
