"""First contact: a clean checkout to the first 201, with the models prepared at set-up or not.

Each run copies the repository as a clone would have it (``bench/_support/checkout.py``:
tracked and new files, no ``data/`` nor ``models/``; the ``.venv`` borrows this checkout's installed
packages, so the minutes of a first ``pip install`` are not in these figures), runs the
README's first command there, ``./scripts/serve.sh``, with the weights' download host
unreachable (as on a machine that reaches only the package registries), and then the
manual's first steps: register, log in, ``POST /api/images/enhance`` of a 64×64 photo with
the default model (general_x4, at its default scale 4).

* prepared: ``./scripts/serve.sh`` as written; set-up converts general_x4, anime and
  anime_video from the ncnn release before the service starts;
* on demand: ``./scripts/serve.sh --skip-models``; the first request converts general_x4.

Figures: ``to_201`` (the command started → the 201 received, set-up and start included) and
``first_request`` (the enhance request alone, register and login excluded). The two
variants alternate ``--repeats`` times; medians are printed.

Reproduce:  .venv/bin/python bench/first_request.py [--repeats 2]
The last line is always ``first_request prepared_s=<s> on_demand_s=<s> to_201_s=<s>``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench._results import start  # noqa: E402
from bench._support.checkout import clean_checkout, first_image, served  # noqa: E402
from bench._support.samples import too_few  # noqa: E402
from bench._support.service import OFFLINE_WEIGHTS, free_port  # noqa: E402

PREPARED = re.compile(r"^(\w+): converted, prepared in ([\d.]+) s$", re.M)


def one_run(skip_models: bool) -> tuple[float, float]:
    """(seconds from the command to the 201, seconds of the enhance request alone); the
    set-up's own line per converted model is printed as it was logged."""
    with tempfile.TemporaryDirectory(prefix="first-contact-") as folder:
        checkout = clean_checkout(Path(folder) / "repo")
        options = ["--skip-models"] if skip_models else []
        with served(checkout, free_port(), *options, **OFFLINE_WEIGHTS) as service:
            timings: list[float] = []

            def timed(request: httpx.Request) -> None:
                if request.url.path == "/api/images/enhance":
                    timings.append(time.monotonic())

            response = first_image(service.url, event_hooks={"request": [timed]})
            done = time.monotonic()
            conversions = PREPARED.findall(service.log.read_text())
            if conversions:
                print("  set-up: " + ", ".join(f"{m} converted in {s} s"
                                               for m, s in conversions), flush=True)
            if response.status_code != 201:
                raise SystemExit(f"first image: {response.status_code} {response.text[:300]}")
            return done - service.started, done - timings[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    run = start("first_request", args)
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for repeat in range(args.repeats):
        for skip in (False, True):
            to_201, first = one_run(skip)
            results[skip].append((to_201, first))
            label = "on demand" if skip else "prepared "
            print(f"run {repeat + 1} {label}: to 201 {to_201:6.1f} s, "
                  f"first request {first:5.2f} s", flush=True)
    prepared = statistics.median(first for _, first in results[False])
    on_demand = statistics.median(first for _, first in results[True])
    to_201 = statistics.median(total for total, _ in results[False])
    to_201_skip = statistics.median(total for total, _ in results[True])
    print(f"medians of {args.repeats}: to 201 prepared {to_201:.1f} s, on demand "
          f"{to_201_skip:.1f} s; first request prepared {prepared:.2f} s, on demand "
          f"{on_demand:.2f} s")
    if too_few(args.repeats):
        print(too_few(args.repeats))
    print("command: .venv/bin/python bench/first_request.py "
          f"--repeats {args.repeats}")
    summary = (f"first_request prepared_s={prepared:.2f} on_demand_s={on_demand:.2f} "
               f"to_201_s={to_201:.1f}")
    print(summary)
    run.finish({"prepared": {"to_201_s": [t for t, _ in results[False]],
                             "first_request_s": [f for _, f in results[False]]},
                "on_demand": {"to_201_s": [t for t, _ in results[True]],
                              "first_request_s": [f for _, f in results[True]]}}, summary)


if __name__ == "__main__":
    main()
