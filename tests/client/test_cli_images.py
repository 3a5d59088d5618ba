"""``enhancer image``: a folder of real photos with parallel uploads, a resumed run, and
refused files reported with the manual's message."""

from __future__ import annotations

import io
import json
from pathlib import Path

from enhancer_client import Client
from PIL import Image as PILImage

from tests.client.conftest import Account, Cli
from tests.embedded import Service
from tests.image_samples import gif, photo

SIZES = [(24, 24), (32, 24), (40, 24), (24, 32), (36, 28)]


def photo_folder(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for i, (width, height) in enumerate(SIZES):
        path = folder / f"foto{i}.{'jpg' if i % 2 else 'png'}"
        path.write_bytes(photo(width, height, "JPEG" if i % 2 else "PNG"))
        paths.append(path)
    (folder / "notes.txt").write_text("not an image: folders contribute images only")
    return paths


def test_a_folder_in_parallel_then_resumed(cli: Cli, logged_in: Account, tmp_path: Path,
                                           service: Service) -> None:
    photo_folder(tmp_path / "fotos")
    first = cli("image", "fotos", "--model", "anime_video", "--scale", "2", "-j", "2",
                "-o", "out")
    assert first.returncode == 0, first.stderr
    assert "5/5" in first.stderr  # the one overall bar reached the end
    assert "5 done, 0 skipped, 0 failed" in first.stdout
    for i, (width, height) in enumerate(SIZES):
        with PILImage.open(tmp_path / "out" / f"foto{i}.png") as result:
            assert (result.format, result.size) == ("PNG", (width * 2, height * 2))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"foto{i}.png" for i in range(5)]  # no partial files left

    with Client(service.url, logged_in.email, logged_in.password) as api:
        assert api.list_images().total == 5
        again = cli("image", "fotos", "--model", "anime_video", "--scale", "2", "-j", "2",
                    "-o", "out", "--json")
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert (report["done"], report["skipped"], report["failed"]) == (0, 5, 0)
        assert api.list_images().total == 5  # nothing was sent again

        # One output removed: only that file is redone.
        (tmp_path / "out" / "foto3.png").unlink()
        resumed = json.loads(cli("image", "fotos", "-m", "anime_video", "-s", "2", "-o", "out",
                                 "--json").stdout)
        assert [r["file"] for r in resumed["results"] if r["status"] == "done"] == [
            "fotos/foto3.jpg"]
        assert api.list_images().total == 6


def test_refused_files_fail_alone(cli: Cli, logged_in: Account, tmp_path: Path) -> None:
    (tmp_path / "animada.png").write_bytes(gif())  # a GIF under a PNG name
    (tmp_path / "bien.png").write_bytes(photo(24, 24))
    done = cli("image", "animada.png", "bien.png", "-m", "anime_video", "--format", "jpeg",
               "-o", "out", "--json")
    assert done.returncode == 1, done.stderr
    results = {r["file"]: r for r in json.loads(done.stdout)["results"]}
    assert results["animada.png"]["status"] == "failed"
    assert results["animada.png"]["error"] == "Formato no soportado: gif"
    assert results["animada.png"]["http_status"] == 400
    assert results["bien.png"]["status"] == "done"
    assert PILImage.open(io.BytesIO((tmp_path / "out" / "bien.jpg").read_bytes())).format == "JPEG"
    assert not (tmp_path / "out" / "animada.jpg").exists()

    table = cli("image", "animada.png", "-m", "anime_video", "-o", "out")
    assert table.returncode == 1
    assert "Formato no soportado: gif" in table.stdout


def test_two_inputs_for_one_output_is_a_usage_error(cli: Cli, logged_in: Account,
                                                   tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(photo(24, 24))
    (tmp_path / "a.jpg").write_bytes(photo(24, 24, "JPEG"))
    clash = cli("image", "a.png", "a.jpg", "-o", "out")
    assert clash.returncode == 2 and "would both be written to" in clash.stderr
