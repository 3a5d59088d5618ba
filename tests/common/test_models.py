"""The public model catalogue: the manual's models and texts, written once, torch-free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from common.contracts import ImageJobSubmitted
from common.errors import InvalidInput
from common.models import DEFAULT_MODEL, MODEL_IDS, MODELS, ModelId, get_model, public_listing
from tests.embedded import manual_models

MANUAL_ENTRIES = manual_models()
ROOT = Path(__file__).resolve().parents[2]
OID = "65f0c0ffee0123456789abcd"


def test_listing_has_the_manuals_models_and_texts() -> None:
    listing = public_listing()
    assert [m["id"] for m in listing] == ["general_x4", "general_x2", "anime", "anime_video",
                                          "general_v3"]
    by_id = {m["id"]: m for m in listing}
    for entry in MANUAL_ENTRIES:
        assert by_id[entry["id"]] == entry
    assert by_id["general_x2"]["default_scale"] == 2 and by_id["general_x2"]["name"] == (
        "RealESRGAN_x2plus")
    assert MODELS["general_x2"].native_scale == 2


def test_unknown_model_type_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="model_type"):
        get_model("general_x8")


def test_the_contracts_model_type_is_the_catalogue() -> None:
    """``ModelType`` is derived from the catalogue: every id is accepted, nothing else is."""
    assert DEFAULT_MODEL == "general_x4" == MODEL_IDS[0]
    assert list(MODEL_IDS) == [m.value for m in ModelId]
    assert all(type(model_id) is str for model_id in MODEL_IDS)
    for model_id in MODEL_IDS:
        msg = ImageJobSubmitted(image_id=OID, user_id=OID, original_blob=OID, scale=2,
                                model_type=model_id)
        assert msg.model_type == model_id
    with pytest.raises(ValidationError):
        ImageJobSubmitted(image_id=OID, user_id=OID, original_blob=OID, scale=2,
                          model_type="general_x8")
    schema = ImageJobSubmitted.model_json_schema()["properties"]["model_type"]
    assert schema["enum"] == list(MODEL_IDS) and schema["default"] == DEFAULT_MODEL


def test_default_scale_setting_lowers_the_request_default() -> None:
    """DEFAULT_SCALE: a request without ``scale`` gets the model's default, or the setting
    when that is lower; 4 (the manual's value) leaves every model's default as listed."""
    assert public_listing(4) == public_listing()
    by_id = {m["id"]: m["default_scale"] for m in public_listing(2)}
    assert by_id == dict.fromkeys(MODEL_IDS, 2)
    assert {m["default_scale"] for m in public_listing(1)} == {1}
    assert MODELS["general_x2"].request_default(3) == 2
    assert MODELS["general_x4"].request_default(3) == 3


def test_catalogue_does_not_import_torch() -> None:
    """The API process lists models (GET /api/models) without paying for a torch import."""
    code = ("import sys, common.models as m; m.public_listing(); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0
