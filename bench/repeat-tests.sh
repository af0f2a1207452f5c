#!/usr/bin/env bash
# Run a test module N times in a row, optionally with the other core busy, and stop at the first failure.
#   bash bench/repeat-tests.sh 10 tests/pipeline/test_workers.py          # quiet machine
#   LOAD=1 bash bench/repeat-tests.sh 10 tests/pipeline/test_workers.py   # one CPU burner alongside
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:?how many runs}; shift
burner=""
if [ -n "${LOAD:-}" ]; then
    .venv/bin/python -c "while True: pass" &
    burner=$!
    trap 'kill $burner 2>/dev/null' EXIT
fi
for i in $(seq 1 "$runs"); do
    start=$(date +%s)
    if ! .venv/bin/python -m pytest -q -p no:cacheprovider "$@" > "/tmp/repeat-tests-$i.log" 2>&1; then
        echo "run $i: FAILED (log: /tmp/repeat-tests-$i.log)"; tail -20 "/tmp/repeat-tests-$i.log"; exit 1
    fi
    echo "run $i: $(tail -1 "/tmp/repeat-tests-$i.log") [$(( $(date +%s) - start )) s${burner:+, other core busy}]"
done
