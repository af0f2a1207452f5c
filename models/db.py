"""Engine and session handling, in one place."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(url: str, **options) -> Engine:
    """One engine (and pool) per URL, and per set of `create_engine` options, per process."""
    key = f"{url}#{options!r}" if options else url
    with _lock:
        if key not in _engines:
            # hide_parameters: an error's text (logged, or shown in a traceback) never holds the values
            # bound to the statement: password hashes, e-mail addresses, whatever a user typed.
            _engines[key] = create_engine(url, hide_parameters=True, **{"pool_pre_ping": True, "future": True,
                                                                         **options})
        return _engines[key]


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests and shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
