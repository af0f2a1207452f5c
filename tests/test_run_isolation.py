"""Each test run has Valkey databases of its own: leases, and never a database someone is connected to."""

from __future__ import annotations

import socket

import pytest
import redis

from tests_helpers import ValkeyDatabases, with_db


def db_of(url: str) -> int:
    return int(url.rpartition("/")[2])


def test_two_runs_never_share_a_database(valkey_databases):
    other = ValkeyDatabases(valkey_databases.server_url)
    try:
        mine, theirs = valkey_databases.lease(), other.lease()
        assert db_of(mine) != db_of(theirs)
        assert db_of(mine) not in other.held and db_of(theirs) not in valkey_databases.held
        valkey_databases.release(mine)
    finally:
        other.release_all()


def test_a_database_with_a_client_connected_is_never_leased(valkey_databases):
    url = valkey_databases.lease()
    stray = redis.Redis.from_url(url)
    stray.ping()  # a worker of a dead run, still attached to its broker database
    valkey_databases.release(url)
    try:
        other = ValkeyDatabases(valkey_databases.server_url)
        try:
            leased = [other.lease() for _ in range(3)]
            assert db_of(url) not in {db_of(u) for u in leased}
        finally:
            other.release_all()
    finally:
        stray.close()


def test_the_lease_of_a_dead_run_is_taken_over_and_the_database_emptied(valkey_databases):
    url = valkey_databases.lease()
    db = db_of(url)
    valkey_databases.release(url)
    admin = redis.Redis.from_url(with_db(valkey_databases.server_url, 0))
    with redis.Redis.from_url(url) as c:
        c.set("left-behind", "1")
    dead = f"{socket.gethostname()}:{2**22 + 1}:gone"  # above Linux's pid_max: no such process
    admin.set(f"releve-test:lease:{db}", dead, ex=60)
    other = ValkeyDatabases(valkey_databases.server_url)
    other.CANDIDATES = [db]
    try:
        assert db_of(other.lease()) == db
        assert admin.get(f"releve-test:lease:{db}").decode() == other.owner
        with redis.Redis.from_url(url) as c:
            assert c.get("left-behind") is None
    finally:
        other.release_all()
        admin.close()


def test_a_live_lease_is_respected(valkey_databases):
    url = valkey_databases.lease()
    other = ValkeyDatabases(valkey_databases.server_url)
    other.CANDIDATES = [db_of(url)]
    try:
        with pytest.raises(RuntimeError, match="no free database"):
            other.lease()
    finally:
        other.release_all()
        valkey_databases.release(url)
