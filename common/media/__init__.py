"""Safe, exact media handling shared by ingress (probing uploads) and the video pipeline.

User video is hostile input: every container is opened through :mod:`common.media.containers`
(allowlisted demuxer pinned after sniffing, local file only) and probing or splitting runs in a
child process under wall-clock and address-space limits (:mod:`common.media.sandbox`).
"""

from common.media.probe import VideoLimits, VideoProbe, probe_video

__all__ = ["VideoLimits", "VideoProbe", "probe_video"]
