"""The FastAPI application of the manual's HTTP API. It never runs a model."""

from __future__ import annotations

from fastapi import FastAPI

from common.runtime import Runtime
from common.version import VERSION
from ingress.errors import install_error_handlers
from ingress.limits import BodySizeLimit
from ingress.routes import auth, images, models, system, videos, web


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Image Enhancer API",
        version=VERSION,
        debug=runtime.settings.api_debug,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_request_bytes)
    app.include_router(auth.router)
    app.include_router(system.router)
    app.include_router(models.router)
    app.include_router(images.router)
    app.include_router(videos.router)
    app.include_router(web.router)
    return app
