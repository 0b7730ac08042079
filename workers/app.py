"""The worker's Celery app: ``celery -A animgraph.workers.app worker -Q control,media,io``."""

from __future__ import annotations

from animgraph.shared.celeryconf import create_celery
from animgraph.shared.settings import Settings

__all__ = ["app"]

_settings = Settings()
app = create_celery(_settings, _settings.redis_url or "redis://127.0.0.1:6379/0")
app.conf.include = ["animgraph.workers.tasks"]
