"""Engine and session handling, in one place.

Whoever owns a transaction (a web request, a task's `session()` block, a CLI command's
`session_scope`) ends it with `commit()`; code called inside it never commits, and hands
`after_commit()` what must wait until the rows are there (tasks to send, cache entries to
drop): it runs right after the commit, and never if the transaction rolls back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

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


def fail_fast_connect_args(timeout: float) -> dict:
    """libpq options that bound every wait on PostgreSQL by about `timeout` seconds: connecting
    (libpq's minimum is 2 s), data sent and never acknowledged (`tcp_user_timeout`), and an answer
    awaited from a server that vanished (keepalives). A slow query on a live server is not cut."""
    seconds = max(1, round(timeout))
    return {"connect_timeout": max(2, round(timeout)), "tcp_user_timeout": int(timeout * 1000), "keepalives": 1,
            "keepalives_idle": seconds, "keepalives_interval": 1, "keepalives_count": 3}


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests and shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(url: str, **engine_options) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url, **engine_options), expire_on_commit=False)


_AFTER_COMMIT = "releve.after_commit"


def after_commit(session: Session, fn: Callable[[], object]) -> None:
    """Run `fn()` once `session`'s transaction is committed by `commit()`; forget it if it rolls back."""
    if not session.in_transaction():
        session.begin()  # no connection yet; but a rollback is now an event that forgets `fn`
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


def commit(session: Session) -> None:
    """Commit, then run, in order, what waited for this commit. Their errors propagate (the data is committed)."""
    session.commit()
    for fn in session.info.pop(_AFTER_COMMIT, []):
        fn()


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_commit(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint inside it
        session.info.pop(_AFTER_COMMIT, None)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success (then runs its after-commit work) and rolls back on error."""
    session = session_factory(url)()
    try:
        yield session
        commit(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
