"""``python -m ingress``: the HTTP API alone, against RabbitMQ and MongoDB (distributed mode)."""

import sys

from common.process import run_main, shutdown_event
from common.runtime import open_runtime
from common.settings import Settings
from ingress.app import create_app
from ingress.auth.secret import resolve_jwt_secret
from ingress.server import serve_until


async def main(settings: Settings) -> None:
    jwt_secret = resolve_jwt_secret(settings, embedded=False)  # refuse before connecting
    stop = shutdown_event()
    async with open_runtime(settings, embedded=False, serves_requests=True) as runtime:
        await serve_until(create_app(runtime, jwt_secret=jwt_secret), settings, stop)


sys.exit(run_main("Image Enhancer API: the HTTP ingress (publishes jobs to the broker).", main,
                  serves_api=True))
