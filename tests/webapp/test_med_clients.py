"""The real MyElectricalData clients from PyPI against a running gateway: `releve web` and `releve worker`
on the sandbox, the clients in throwaway venvs (bench/med_clients.py builds them and runs them).

enedis-client reads daily energy, load curve, max power and the contract, then sees its own quota error
(`QuotaError`, with Enedis's `nextAccessTime`) while Enedis throttles the gateway; myelectricaldatapy
2.2.7 passes `valid_access` and reads three years of daily energy and the Tempo colours. Nothing is
cached beforehand: every read starts as a miss the worker fills, as for a new Home Assistant user.
Skipped, saying so, only when PyPI cannot be reached to build the venvs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from models.api_clients import ApiClient
from models.db import session_scope
from tests_helpers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
C0 = "22516914714270"  # sandbox customer 0: consumption, load curve, off-peak hours
PYPI_UNREACHABLE = 3


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}


@pytest.fixture
def settings_env():
    # Three years of daily energy are four fetches; the default 5 upstream reads a minute would slow the test,
    # not change what it proves.
    return {"API_UPSTREAM_QUOTA_PER_MINUTE": "100", "API_QUOTA_PER_MINUTE": "1000", "PYTHONUNBUFFERED": "1"}


def run_bench(base: str, secret: str, venvs: Path, *checks: str) -> list[dict]:
    args = [sys.executable, "-m", "bench.med_clients", "--base-url", base, "--token", secret, "--pdl", C0,
            "--seconds", "300", "--venvs", str(venvs)]
    for check in checks:
        args += ["--check", check]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if done.returncode == PYPI_UNREACHABLE:
        pytest.skip(f"PyPI unreachable, the clients' venvs could not be built: {done.stderr.strip()[-300:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, (results, done.stderr[-3000:])
    return [json.loads(r["output"]) for r in results]


def test_enedis_client_and_myelectricaldatapy_read_relevé(sandbox, accounts, spawn, test_env, database_url,
                                                          wait_until, tmp_path):
    user = accounts.user()
    point = accounts.points([C0], user, kind="consumption")[0]
    with session_scope(database_url) as session:
        client, secret = ApiClient.issue(user.id, "Home Assistant")
        session.add(client)  # goes with the account (ON DELETE CASCADE) when `accounts` cleans up
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = spawn(["web", "--bind", f"127.0.0.1:{port}", "--workers", "2"], test_env)
    worker = spawn(["worker", "--concurrency", "2"], test_env)

    def up():
        assert web.poll() is None, web.log.read_text()
        assert worker.poll() is None, worker.log.read_text()
        try:
            return requests.get(f"{base}/ping", timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    wait_until(up, timeout=90, interval=0.5)

    enedis, medpy = run_bench(base, secret, tmp_path, "enedis", "medpy")
    print("enedis-client:", enedis, "\nmyelectricaldatapy:", medpy)  # shown with -s or -rP
    assert enedis["ok"] and enedis["valid"] is True, enedis
    assert 28 <= enedis["daily_days"] <= 30 and enedis["daily_kwh"] > 0
    assert enedis["curve_points"] >= 6 * 46 and enedis["curve_kwh"] > 0
    assert enedis["curve_first_end"][11:16] == "00:30"  # Enedis dates a load-curve point at its interval's end
    assert enedis["max_power_days"] >= 28 and enedis["subscribed_power"].endswith("kVA")
    assert medpy["ok"] and medpy["valid"] is True and medpy["daily_days"] >= 1000, medpy
    assert medpy["tempo_days"] > 0 and medpy["tempo_sample"][1] in ("blue", "white", "red")

    # Enedis throttles the gateway (a 429 with nextAccessTime, 15 minutes): a read that needs it is a 429
    # carrying Enedis's error, which enedis-client turns into its QuotaError.
    sandbox.state.add_fault("429-next-access", api="enedis", retry_after=900, path="/metering_data_clc")
    (quota,) = run_bench(base, secret, tmp_path, "enedis-quota")
    print("enedis-client, throttled:", quota)
    assert quota["ok"] and quota["error"] == "QuotaError", quota
    assert point.pdl == C0
