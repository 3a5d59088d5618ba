"""Python SDK and command line (``enhancer``) for the Image Enhancer API.

    from enhancer_client import Client

    with Client("http://localhost:8888", "usuario@ejemplo.com", "mipassword123") as api:
        image = api.enhance_image("foto.jpg", model_type="general_x4", scale=2)
        api.download(image, "foto_x2.png")
        video = api.submit_video("clip.mp4", model_type="anime_video")
        api.wait(video, on_progress=lambda v: print(v.frames_processed, "/", v.frame_count))
        api.download(video, "clip.mkv")

``AsyncClient`` has the same methods, awaited. Errors are the ``EnhancerError`` tree in
``enhancer_client.errors``; ``ApiError`` carries the HTTP status and the API's message.
"""

from enhancer_client.aio import AsyncClient
from enhancer_client.auth import TokenStore
from enhancer_client.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConflictError,
    ConnectionFailed,
    EnhancerError,
    JobFailedError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TooLargeError,
    WaitTimeout,
)
from enhancer_client.sync import Client
from enhancer_client.types import Image, Model, Page, Tokens, User, Video

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AsyncClient",
    "AuthError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "ConnectionFailed",
    "EnhancerError",
    "Image",
    "JobFailedError",
    "Model",
    "NotFoundError",
    "Page",
    "RateLimitedError",
    "ServerError",
    "TokenStore",
    "Tokens",
    "TooLargeError",
    "User",
    "Video",
    "WaitTimeout",
    "__version__",
]
