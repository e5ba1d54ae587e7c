"""faust stream workers: identity resolution and the unified timeline (`build_app`)."""

from streams.workers.config import StreamsConfig

__all__ = ["StreamsConfig"]
