"""The FastAPI application of the manual's HTTP API. It never runs a model.

The token key is the API's own (``ingress.auth.secret.resolve_jwt_secret``, called by the
process before it connects anywhere); the app keeps the issuer built from it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from common.jobs.notices import FinishedWaiters
from common.logs import protect_access_log
from common.runtime import Runtime
from common.version import VERSION
from ingress.auth.tokens import TokenIssuer
from ingress.errors import install_error_handlers
from ingress.events.watcher import JobWatcher
from ingress.limits import BodySizeLimit
from ingress.openapi import create_documented_app
from ingress.routes import auth, events, images, metrics, models, system, videos, web, webhooks


def create_app(runtime: Runtime, *, jwt_secret: str) -> FastAPI:
    settings = runtime.settings
    app = create_documented_app(title="Image Enhancer API", version=VERSION,
                                debug=settings.api_debug)
    app.state.runtime = runtime
    protect_access_log()  # event-stream tickets travel in the query string
    app.state.token_issuer = TokenIssuer(
        secret=jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_lifetime=timedelta(minutes=settings.jwt_access_token_expire_minutes),
    )
    # Wakes the requests waiting for their image (common.jobs.notices).
    app.state.finished = FinishedWaiters(runtime.bus)
    poll = settings.events_poll_seconds
    app.state.events = events.EventStreams(JobWatcher(runtime.store.images, poll),
                                           JobWatcher(runtime.store.videos, poll))
    app.state.finished.on_every(app.state.events.poke)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_request_bytes)
    app.include_router(auth.router)
    app.include_router(system.router)
    app.include_router(models.router)
    app.include_router(images.router)
    app.include_router(videos.router)
    app.include_router(web.router)
    app.include_router(webhooks.router)
    app.include_router(events.router)
    app.include_router(metrics.router)
    return app
