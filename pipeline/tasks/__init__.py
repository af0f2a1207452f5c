"""Celery tasks, one module per upstream or concern."""
