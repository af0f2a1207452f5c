"""Key formats are a contract with the previous release: pinned here, built only in models/keys.py."""

import ast
from datetime import date
from pathlib import Path

from models import keys

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
    assert keys.once_key(keys.fetch_claim(12, "load_curve", day, date(2026, 11, 25))) == \
        "releve:once:fetch:12:load_curve:2026-11-24:2026-11-25"
    assert keys.fetch_claims_pattern(12) == "releve:once:fetch:12:*:*:*"
    assert keys.once_key(keys.refresh_pass_claim(day, 8)) == "releve:once:refresh_all:2026-11-24:8"
    assert keys.once_key(keys.tempo_season_claim(day)) == "releve:once:tempo_season:2026-11-24"
    assert keys.ratelimit_key("enedis", "blocked") == "releve:ratelimit:enedis:blocked"
    assert keys.interactive_budget_key(7) == "releve:budget:7"
    digest = "7a64adf28737ea90719cbdf0b1a87a5e"  # SHA-256 of the address, 32 hex digits
    assert keys.login_keys("alice@example.org", "192.0.2.1") == (
        f"releve:login:acct:{digest}", "releve:login:addr:192.0.2.1")
    assert keys.mail_keys("reset", "alice@example.org", "192.0.2.1") == (
        f"releve:mail:reset:acct:{digest}", "releve:mail:reset:addr:192.0.2.1")
    assert (keys.BEAT_HEARTBEAT_KEY, keys.WORKER_HEARTBEAT_KEY, keys.WORKERS_HEARTBEAT_KEY, keys.REDBEAT_PREFIX) == (
        "releve:heartbeat:beat", "releve:heartbeat:worker", "releve:heartbeat:workers", "releve:redbeat")


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
