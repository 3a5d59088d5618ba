"""``python main.py``: the whole service in one process on its embedded default.

Spawns and supervises a SecantusDB server (unless ``MONGO_URL`` is set), uses the in-process
bus (unless ``AMQP_URL`` is set), runs every pipeline stage and serves the API on
``API_PORT`` (8888; ``--port`` overrides it, ``--host`` ``API_HOST``). Ctrl-C or SIGTERM
stops the API, lets in-flight messages finish or returns them to their queue, and stops the
spawned database.
"""

import sys

from common.process import run_main, shutdown_event
from common.runtime import open_runtime
from common.settings import Settings
from ingress.app import create_app
from ingress.auth.secret import resolve_jwt_secret
from ingress.server import serve_until
from pipeline.decode.stage import STAGE as DECODE
from pipeline.encode.stage import STAGE as ENCODE
from pipeline.runner import start_stages, stop_stages
from pipeline.upscale.stage import STAGE as UPSCALE
from pipeline.webhooks.stage import STAGE as WEBHOOKS


async def main(settings: Settings) -> None:
    jwt_secret = resolve_jwt_secret(settings, embedded=True)
    stop = shutdown_event()
    async with open_runtime(settings, embedded=True, serves_requests=True) as runtime:
        workers = await start_stages(runtime, [DECODE, UPSCALE, ENCODE, WEBHOOKS])
        try:
            await serve_until(create_app(runtime, jwt_secret=jwt_secret), settings, stop)
        finally:
            await stop_stages(workers)


if __name__ == "__main__":
    sys.exit(run_main("Image Enhancer API, embedded: API and every stage in one process.", main,
                      serves_api=True))
