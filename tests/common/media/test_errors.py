"""A media failure's text for users: FFmpeg's reason without the file, and no server path
left in any text, while URLs and plain slashes stay as they are."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from common.media.errors import SERVER_FILE, media_reason, without_paths


def test_ffmpegs_reason_comes_without_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "chunk.nut"
    bad.write_bytes(b"not a nut file at all" * 10)
    with pytest.raises(av.FFmpegError) as caught:
        av.open(str(bad), format="nut")
    assert str(bad) in str(caught.value)  # what PyAV says, path included
    assert media_reason(caught.value) == "Invalid data found when processing input"


@pytest.mark.parametrize(("text", "shown"), [
    ("no se puede leer: '/tmp/upscale-24jpjw0c/chunk.nut' (x)",
     f"no se puede leer: {SERVER_FILE} (x)"),
    ('abrir "/var/lib/enhancer/data/v.mkv"', f"abrir {SERVER_FILE}"),
    ("en /home/app/.cache/x.bin, otra vez", f"en {SERVER_FILE}, otra vez"),
    ("pesos en https://github.com/xinntao/Real-ESRGAN/releases", None),
    ("relación 16/9 y 1/2/3", None),
])
def test_server_paths_are_replaced_and_nothing_else(text: str, shown: str | None) -> None:
    assert without_paths(text) == (text if shown is None else shown)
