"""The pipeline: Celery apps, upstream clients, rate limiter, tasks and schedules.

`app` is the entry point of `celery -A pipeline …`, configured from the environment when
first used; code that has settings builds its own app (`pipeline.celery_app.create_celery`).
"""

from pipeline.celery_app import create_celery

app = create_celery()

__all__ = ["app"]
