"""An upscale worker SIGKILLed in the middle of an image job, on real RabbitMQ.

The client's request is waiting when the worker dies. The broker hands the unacked job to a
replacement worker, the job completes, and the waiting request still gets its 201: the result
is computed and stored exactly once, by the replacement.
"""

from __future__ import annotations

import base64
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from bson import ObjectId
from pymongo import MongoClient

from common.store.blobs import BUCKET
from tests.distributed import distributed_env, distributed_service, namespace
from tests.image_models import OFFLINE_WEIGHTS, image_models
from tests.image_samples import b64, open_image, photo

__all__ = ["image_models", "namespace"]  # fixtures, imported so pytest finds them here

pytestmark = pytest.mark.rabbitmq
ACCOUNT = {"username": "kim", "email": "kim@ejemplo.com", "password": "mipassword123"}


def _processing(http: httpx.Client, headers: dict[str, str]) -> list[dict[str, object]]:
    listed = http.get("/api/images", headers=headers, params={"status": "processing"})
    images: list[dict[str, object]] = listed.json()["images"]
    return images


def test_a_killed_upscale_worker_is_replaced_and_the_image_is_made_once(
    image_models: Path, mongo_url: str, namespace: str, tmp_path: Path
) -> None:
    db_name = f"images_kill_{uuid.uuid4().hex[:8]}"
    # One thread makes general_x4 slow enough (seconds) to kill the worker inside the model.
    env = distributed_env(mongo_url, db_name, namespace, tmp_path, MODELS_DIR=str(image_models),
                          BUS_DELIVERY_LIMIT="3", BUS_PREFETCH="1", OMP_NUM_THREADS="1",
                          IMAGE_WAIT_SECONDS="240", **OFFLINE_WEIGHTS)
    # 192×144 at ×4: ~2 s of model on one quiet core (128×96 took 1.0 s, so the kill 1 s
    # after "processing" could land after the result on a quiet machine).
    source = photo(192, 144)
    with (distributed_service(env, tmp_path, {"up1": "pipeline.upscale"}) as deploy,
          httpx.Client(base_url=deploy.url, timeout=300) as http,
          ThreadPoolExecutor(max_workers=1) as pool):
        assert http.post("/api/auth/register", json=ACCOUNT).status_code == 201
        login = http.post("/api/auth/login", json=ACCOUNT).json()
        headers = {"Authorization": f"Bearer {login['tokens']['access_token']}"}
        waiting = pool.submit(http.post, "/api/images/enhance", headers=headers,
                              json={"image_base64": b64(source), "filename": "cup.png"})
        deadline = time.monotonic() + 120
        while not (busy := _processing(http, headers)):
            assert time.monotonic() < deadline, deploy.log_tails()
            time.sleep(0.1)
        (job,) = busy
        time.sleep(1.0)  # inside the model by now: loading it alone takes longer
        deploy.kill("up1")
        assert [i["id"] for i in _processing(http, headers)] == [job["id"]]
        deploy.start("up2", "pipeline.upscale")
        response = waiting.result(timeout=280)
        logs = {name: deploy.log(name) for name in ("up1", "up2")}

    assert response.status_code == 201, response.text + str(logs)
    image = response.json()["image"]
    assert image["id"] == job["id"] and image["status"] == "completed"
    enhanced_png = base64.b64decode(image["enhanced_base64"])
    assert open_image(enhanced_png).size == (768, 576)
    done = f"upscale image:{job['id']} done"
    assert done not in logs["up1"] and logs["up2"].count(done) == 1
    with MongoClient(mongo_url) as client:
        files = client[db_name][f"{BUCKET}.files"]
        stored = list(files.find({"metadata.image_id": ObjectId(job["id"]),
                                  "metadata.kind": "enhanced"}))
        client.drop_database(db_name)
    # Exactly one result: the replacement's, and nothing left over from the killed attempt.
    assert [f["length"] for f in stored] == [len(enhanced_png)]
