"""Benchmarks: `make bench` prints measured numbers (see __main__.py)."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


def bench_database(name: str) -> str:
    """`DATABASE_URL`, or a database `name` created afresh on the machine's PostgreSQL; migrated either way.
    Returns its URL with the password shown (for the processes a bench starts)."""
    from releve.cli import run_migrations

    url = os.environ.get("DATABASE_URL")
    if not url:
        admin = create_engine(f"{LOCAL_POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        url = f"{LOCAL_POSTGRES}/{name}"
    run_migrations(url)
    return make_url(url).render_as_string(hide_password=False)
