"""The real MyElectricalData clients from PyPI, in throwaway venvs, against a running Relevé gateway.

    python -m bench.med_clients --base-url http://127.0.0.1:8000 --token SECRET --pdl PDL [--check all]

- `enedis-client` 1.0.3 (its `ENEDIS_BASE_URL` pointed at the gateway): valid_access, 30 days of daily
  energy, 7 days of load curve, 30 days of max power, the contract (`--check enedis`); then, with
  `--check enedis-quota`, a range not cached while Enedis throttles the gateway: the client must raise
  its own `QuotaError` with Enedis's `nextAccessTime` (the caller makes the sandbox throttle first).
- `myelectricaldatapy` 2.2.7 (what hass-myelectricaldata runs; its host is a constant, `auth.URL`,
  patched here as a Home Assistant user would patch it): `valid_access`, three years of daily energy
  and the Tempo colours, then the statistics Home Assistant shows (`--check medpy`).

Clients store what they get as final, and the gateway answers a miss with 503 (v1) while it fetches:
each script asks again, as the clients' own users do (Home Assistant polls), until its deadline.
Each check prints one JSON line; the exit status is 0 when every check passed, 1 when one failed,
3 when PyPI could not be reached (the venv could not be built). tests/webapp/test_med_clients.py runs
this against a `releve web` and a `releve worker` on the sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

CLIENTS = {"enedis": "enedis-client==1.0.3", "medpy": "myelectricaldatapy==2.2.7"}
MODULES = {"enedis-client==1.0.3": "enedis_client", "myelectricaldatapy==2.2.7": "myelectricaldatapy"}
PYPI_UNREACHABLE = 3

ENEDIS_CLIENT = r'''
import json, os, sys, time
from datetime import date, timedelta
from enedis_client import MyElectricalDataClient, Settings
from enedis_client.errors import QuotaError, UpstreamError

deadline = time.monotonic() + float(os.environ["CHECK_SECONDS"])
client = MyElectricalDataClient(Settings.from_env(), retries=0)

def patiently(call):
    """The gateway answers 503 while it fetches a miss: ask again, as a user's cron would."""
    while True:
        try:
            return call()
        except UpstreamError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)

today = date.today()
out = {"client": "enedis-client"}
if os.environ["CHECK"] == "enedis":
    out["valid"] = client.valid_access()["valid"]
    daily = patiently(lambda: client.daily_consumption(today - timedelta(days=30), today))
    out["daily_days"], out["daily_kwh"] = len(daily), round(daily.total_energy_kwh, 3)
    curve = patiently(lambda: client.consumption_load_curve(today - timedelta(days=7), today))
    out["curve_points"], out["curve_first_end"] = len(curve), curve.readings[0].end.isoformat()
    out["curve_kwh"] = round(curve.total_energy_wh / 1000, 3)
    power = patiently(lambda: client.raw_json(
        f"/daily_consumption_max_power/{client.settings.pdl}/start/{today - timedelta(days=30)}/end/{today}"))
    out["max_power_days"] = len(power["meter_reading"]["interval_reading"])
    contract = patiently(client.contracts)["customer"]["usage_points"][0]["contracts"]
    out["subscribed_power"], out["offpeak_hours"] = contract["subscribed_power"], contract["offpeak_hours"]
    out["ok"] = bool(out["valid"] and out["daily_days"] and out["curve_points"] and out["max_power_days"]
                     and out["subscribed_power"])
else:  # enedis-quota: a range nobody cached, while Enedis throttles the gateway
    first = today - timedelta(days=300)
    while True:
        try:
            client.consumption_load_curve(first, first + timedelta(days=1))
            out.update(ok=False, error="read succeeded: no throttle seen")
            break
        except QuotaError as exc:
            out.update(ok="Access reopens at" in str(exc), error=type(exc).__name__, message=str(exc)[:300])
            break
        except UpstreamError:
            if time.monotonic() > deadline:
                out.update(ok=False, error="still 503 at the deadline")
                break
            time.sleep(2)
print(json.dumps(out))
sys.exit(0 if out["ok"] else 1)
'''

MEDPY = r'''
import asyncio, json, logging, os, sys, time
from datetime import date
import myelectricaldatapy.auth
from myelectricaldatapy import EnedisByPDL

# The integration hard-codes https://myelectricaldata.fr; a Home Assistant user edits this one constant.
myelectricaldatapy.auth.URL = os.environ["GATEWAY"].rstrip("/")
logging.basicConfig(level=logging.CRITICAL)
TEMPO = {"standard": {"blue": 0.1296, "white": 0.1486, "red": 0.7562},
         "offpeak": {"blue": 0.1232, "white": 0.1391, "red": 0.146}}

async def main():
    deadline = time.monotonic() + float(os.environ["CHECK_SECONDS"])
    pdl = EnedisByPDL(os.environ["PDL"], os.environ["TOKEN"])
    pdl.set_collects("daily_consumption", prices=TEMPO)  # three years back, and the Tempo colours
    out = {"client": "myelectricaldatapy"}
    try:
        while True:
            await pdl.async_update()  # valid_access, contract, address, then the collects
            if pdl.has_collected and pdl.tempo:
                break
            if time.monotonic() > deadline:
                out["error"] = "nothing collected by the deadline"
                break
            await asyncio.sleep(3)
        data = pdl._params["consumption"].get("data", [])
        out.update(valid=pdl.access.get("valid"), quota_limit=pdl.access.get("quota_limit"),
                   daily_days=len(data), first_day=data[0]["date"] if data else None,
                   last_day=data[-1]["date"] if data else None, tempo_days=len(pdl.tempo),
                   tempo_sample=sorted(pdl.tempo.items())[-1] if pdl.tempo else None,
                   subscribed_power=pdl.contract.get("subscribed_power"))
        if pdl.has_collected:
            stats = pdl.stats["consumption"]  # what Home Assistant shows, computed by the library
            out["stats_rows"] = len(stats)
        out["ok"] = bool(out["valid"] and out["daily_days"] >= 1000 and out["tempo_days"] and pdl.has_collected)
    finally:
        await pdl.async_close()
    print(json.dumps(out, default=str))
    return 0 if out.get("ok") else 1

sys.exit(asyncio.run(main()))
'''


def build_venv(root: Path, requirement: str) -> Path | None:
    """A venv with `requirement` installed from PyPI (pip's ordinary client; one already built there is
    reused); None when pip fails."""
    python = root / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", f"import {MODULES[requirement]}"],
                                          capture_output=True).returncode == 0:
        return python
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           requirement], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        print(f"pip install {requirement} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return python


def run_check(python: Path, check: str, *, base_url: str, token: str, pdl: str, seconds: float) -> tuple[int, str]:
    script = ENEDIS_CLIENT if check.startswith("enedis") else MEDPY
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ENEDIS_", "PYTHON"))},
           "ENEDIS_BASE_URL": base_url, "ENEDIS_TOKEN": token, "ENEDIS_PDL": pdl, "GATEWAY": base_url,
           "TOKEN": token, "PDL": pdl, "CHECK": check, "CHECK_SECONDS": str(seconds)}
    done = subprocess.run([str(python), "-c", script], env=env, capture_output=True, text=True,
                          timeout=seconds + 120, cwd=python.parent)
    output = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-2000:]
    return done.returncode, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the gateway, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a Relevé API secret of the account holding --pdl")
    parser.add_argument("--pdl", required=True)
    parser.add_argument("--check", action="append", choices=["enedis", "medpy", "enedis-quota"],
                        help="repeatable; default: enedis then medpy")
    parser.add_argument("--seconds", type=float, default=240, help="how long each check may wait for the gateway")
    parser.add_argument("--venvs", type=Path, help="where to build the venvs (default: a temporary directory)")
    args = parser.parse_args(argv)
    checks = args.check or ["enedis", "medpy"]
    root = args.venvs or Path(tempfile.mkdtemp(prefix="releve-med-clients-"))
    pythons: dict[str, Path] = {}
    failed = False
    for check in checks:
        name = "enedis" if check.startswith("enedis") else "medpy"
        if name not in pythons:
            python = build_venv(root / name, CLIENTS[name])
            if python is None:
                return PYPI_UNREACHABLE
            pythons[name] = python
        code, output = run_check(pythons[name], check, base_url=args.base_url, token=args.token, pdl=args.pdl,
                                 seconds=args.seconds)
        print(json.dumps({"check": check, "exit": code, "output": output}), flush=True)
        failed |= code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
