#!/usr/bin/env bash
# A third-party RTE client from PyPI (pyrte 0.1.2), pointed at the sandbox, reads national
# consumption from it. Installs into a throwaway venv under /tmp, never into the project's.
#   bash bench/third_party_rte.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-8899}"
VENV="${THIRD_PARTY_VENV:-/tmp/releve-third-party-rte}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "pyrte==0.1.2"

.venv/bin/python -m sandbox --port "$PORT" > "$VENV/sandbox.log" 2>&1 &
SANDBOX_PID=$!
trap 'kill "$SANDBOX_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$PORT/_sandbox/clock" > /dev/null 2>&1 && break
  sleep 0.1
done

"$VENV/bin/python" - "http://127.0.0.1:$PORT" <<'PY'
"""Read national consumption from the Relevé sandbox with the PyPI client `pyrte`."""
import sys

import pandas as pd
from pyrte.rte_client import APIService, PrevisionType, RTEAuth, RTEClient

base = sys.argv[1].rstrip("/") + "/"
RTEAuth.token_url = base + "token/oauth/"          # pyrte keeps the token URL as a class attribute
creds = {"client_id": "third-party", "client_secret": "secret"}
client = RTEClient({APIService.short_term_consumption: creds}, base_url=base)
today = pd.Timestamp.now(tz="Europe/Paris").normalize()
for kind in (PrevisionType.REALISED, PrevisionType.D_MINUS_1):
    series = client.get_short_term_consumption(today, today + pd.Timedelta(days=1), kind)
    assert series.notna().sum() > 0, f"no {kind.value} values"
    print(f"{kind.value}: {series.notna().sum()} quarter-hours, {series.min():.0f}-{series.max():.0f} MW")
    print(series.dropna().head(4).to_string())
print("pyrte read the sandbox: OK")
PY
