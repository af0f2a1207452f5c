"""Key formats are a contract with the previous release: pinned here, built only in models/keys.py."""

import ast
import os
from datetime import date
from pathlib import Path

import pytest

from models import keys
from models.cache import EncryptedCache

ROOT = Path(__file__).resolve().parents[2]


def test_formats_stay_as_the_previous_release_wrote_them():
    day = date(2026, 11, 24)
    assert keys.cache_key(7, None, "token:enedis") == "releve:c:7:-:token:enedis"
    assert keys.cache_pattern(7) == "releve:c:7:*"
    # Point entries are named by the usage point's id since the master key can rotate (they were
    # named by an HMAC of the PDL under the oldest master key): entries of earlier releases are misses.
    assert keys.cache_key(7, 12, "contract") == "releve:c:7:p12:contract"
    assert keys.cache_pattern(7, 12) == "releve:c:7:p12:*"
    assert keys.day_entry("load_curve", day) == "load_curve:2026-11-24"
    assert keys.history_start_entry("max_power") == "max_power:history-start"
    assert keys.token_entry("rte") == "token:rte"
    assert (keys.CONTRACT, keys.ADDRESS) == ("contract", "address")
    assert keys.progress_key(12) == "releve:progress:12"
    assert keys.progress_done_key(12) == "releve:progress:12:done"
    assert keys.progress_window("load_curve", day, date(2026, 12, 1)) == \
        keys.progress_window("load_curve", "2026-11-24", "2026-12-01") == "load_curve:2026-11-24:2026-12-01"
    assert keys.once_key(keys.fetch_claim(12, "load_curve", day, date(2026, 11, 25))) == \
        "releve:once:fetch:12:load_curve:2026-11-24:2026-11-25"
    assert keys.fetch_claims_pattern(12) == "releve:once:fetch:12:*:*:*"
    assert keys.once_key(keys.refresh_pass_claim(day, 8)) == "releve:once:refresh_all:2026-11-24:8"
    assert keys.once_key(keys.tempo_season_claim(day)) == "releve:once:tempo_season:2026-11-24"
    assert keys.once_key(keys.admin_refresh_claim(12)) == "releve:once:admin_refresh:12"
    assert keys.count_key("enedis", "calls", day) == "releve:count:enedis:calls:2026-11-24"
    assert keys.TASK_FAILURES_KEY == "releve:tasks:failures"
    assert keys.ratelimit_key("enedis", "blocked") == "releve:ratelimit:enedis:blocked"
    assert keys.interactive_budget_key(7) == "releve:budget:7"
    assert keys.readings_version_key(12) == "releve:readings:12"
    assert keys.cost_entry("ab12") == "costs:ab12"
    assert (keys.SIMULATION, keys.SIMULATION_PROGRESS) == ("simulation", "simulation:progress")
    assert keys.once_key(keys.simulation_claim(12)) == "releve:once:simulate:12"
    assert keys.once_key(keys.contract_claim(12)) == "releve:once:contract:12"
    assert keys.once_key(keys.customer_claim(12)) == "releve:once:customer:12"
    assert keys.quota_key(3, "upstream", "d", "2026-11-24") == "releve:quota:3:upstream:d:2026-11-24"
    assert keys.quota_pattern(3) == "releve:quota:3:*"
    assert keys.access_key("ab" * 32) == "releve:access:" + "ab" * 32
    assert keys.access_generation_key("ab" * 32) == "releve:access:gen:" + "ab" * 32
    assert keys.answer_entry("v1", "max_power", day, day, day) == "answer:v1:max_power:2026-11-24:2026-11-24:2026-11-24"
    digest = "7a64adf28737ea90719cbdf0b1a87a5e"  # SHA-256 of the address, 32 hex digits
    assert keys.login_keys("alice@example.org", "192.0.2.1") == (
        f"releve:login:acct:{digest}", "releve:login:addr:192.0.2.1")
    assert keys.mail_keys("reset", "alice@example.org", "192.0.2.1") == (
        f"releve:mail:reset:acct:{digest}", "releve:mail:reset:addr:192.0.2.1")
    assert (keys.BEAT_HEARTBEAT_KEY, keys.WORKER_HEARTBEAT_KEY, keys.WORKERS_HEARTBEAT_KEY, keys.REDBEAT_PREFIX) == (
        "releve:heartbeat:beat", "releve:heartbeat:worker", "releve:heartbeat:workers", "releve:redbeat")
    # celery-redbeat's own lock name, which the previous release's beat takes: the two exclude each other.
    assert keys.REDBEAT_LOCK_KEY == "releve:redbeat:lock"
    # New in this release (#12): the recovery check's claim and the Valkey run id it compares.
    assert keys.once_key(keys.resume_claim(12)) == "releve:once:resume:12"
    assert keys.VALKEY_RUN_KEY == "releve:recovery:valkey-run"


def test_no_email_address_in_a_key():
    assert not any("alice" in key for key in keys.login_keys("alice@example.org", "192.0.2.1")
                   + keys.mail_keys("verify", "alice@example.org", "192.0.2.1"))


def key_literals(path: Path) -> list[str]:
    """String literals (and f-string heads) of a module that start like one of our keys."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            node = node.values[0]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("releve:"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return found


def test_keys_are_built_only_in_models_keys():
    owner = ROOT / "models" / "keys.py"
    retyped = [hit for package in ("models", "pipeline", "webapp", "releve") for path in (ROOT / package).rglob("*.py")
               if path != owner for hit in key_literals(path)]
    assert retyped == []


def left_by(user_id: int, point_id: int) -> set[bytes]:
    """The keys a point leaves behind, written out: cache entries, backfill progress, a fetch claim."""
    return {f"releve:c:{user_id}:p{point_id}:contract".encode(),
            f"releve:c:{user_id}:p{point_id}:daily_consumption:2026-01-01".encode(),
            f"releve:progress:{point_id}".encode(), f"releve:progress:{point_id}:done".encode(),
            f"releve:readings:{point_id}".encode(),
            f"releve:once:fetch:{point_id}:daily_consumption:2026-01-01:2026-01-02".encode()}


@pytest.fixture
def cache(valkey):
    """User 5 with points 41 and 42 and an entry of no point, user 6 with point 43."""
    cache = EncryptedCache(valkey, os.urandom(32))
    for user_id, point_id in ((5, 41), (5, 42), (6, 43)):
        cache.put(user_id, keys.CONTRACT, {"a": point_id}, point=point_id)
        cache.put_days(user_id, point_id, "daily_consumption", {date(2026, 1, 1): {"value": 1}})
        valkey.hset(keys.progress_key(point_id), mapping={"total": 2, "done": 1})
        valkey.sadd(keys.progress_done_key(point_id), "daily_consumption:2026-01-01:2026-01-02")
        valkey.set(keys.once_key(keys.fetch_claim(point_id, "daily_consumption", "2026-01-01", "2026-01-02")), "1")
    cache.put(5, "identity", {"firstname": "Alice"})
    return cache


def test_forget_point_drops_its_entries_progress_and_claims_only(valkey, cache):
    before = set(valkey.keys("*"))
    assert keys.forget_point(valkey, 5, 41) == 6
    assert before - set(valkey.keys("*")) == left_by(5, 41)
    assert cache.get(5, keys.CONTRACT, point=42) == {"a": 42} and cache.get(5, "identity") is not None


def test_forget_user_drops_everything_of_the_user_and_nothing_else(valkey, cache):
    valkey.set(keys.interactive_budget_key(5), 3)
    assert keys.forget_user(valkey, 5, [41, 42]) == 14
    assert set(valkey.keys("*")) == left_by(6, 43)
    assert keys.forget_user(valkey, 5, []) == 0
