"""Client filenames: base name only, no control characters, safe in a download header."""

from __future__ import annotations

import pytest

from common.errors import InvalidInput
from ingress.downloads import content_disposition
from ingress.images.upload import clean_filename as image_name
from ingress.videos.upload import clean_filename as video_name


def test_control_characters_and_directories_are_dropped_at_upload() -> None:
    assert image_name("C:\\fotos\\gato\r\n.png") == "gato.png"
    assert image_name("../../\x00\x1b[31m") == "[31m"
    assert image_name("\r\n") is None
    assert video_name("/tmp/mi\r\nvideo\x7f.mp4") == ("mivideo.mp4", ".mp4")
    with pytest.raises(InvalidInput):
        video_name("clip.\r\n")


def test_a_stored_name_with_a_line_break_cannot_split_the_header() -> None:
    """Documents written before uploads were cleaned may still hold such a name."""
    header = content_disposition('viejo\r\nSet-Cookie: a=b"\\.png')
    assert "\r" not in header and "\n" not in header
    assert header == ("attachment; filename=\"viejoSet-Cookie: a=b__.png\"; "
                      "filename*=UTF-8''viejoSet-Cookie%3A%20a%3Db%22%5C.png")
    assert content_disposition("\r\n") == (
        "attachment; filename=\"descarga\"; filename*=UTF-8''descarga")
