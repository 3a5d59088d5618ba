"""The service version, reported by ``/api/info`` and the AsyncAPI document."""

VERSION = "0.1.0"
