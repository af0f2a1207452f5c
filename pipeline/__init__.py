"""The pipeline: Celery app, upstream clients, rate limiter, tasks and schedules."""

from pipeline.celery_app import app

__all__ = ["app"]
