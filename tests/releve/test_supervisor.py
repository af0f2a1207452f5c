"""The supervisor stops children and their own children, leaving no orphan."""

import io
import os
import re
import sys
import threading

from releve.supervisor import Supervisor

# A child that starts a grandchild and ignores SIGTERM, like a stubborn worker pool.
STUBBORN = (
    "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"
    "print('grandchild', p.pid, flush=True); time.sleep(300)"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead for our purpose
        return f.read().split()[2] != "Z"


def test_stop_kills_the_whole_group_and_prefixes_output(wait_until):
    out = io.StringIO()
    sup = Supervisor(out=out, grace=1.0)
    sup.add("stubborn", [sys.executable, "-c", STUBBORN])
    sup.add("echo", [sys.executable, "-c", "print('hello', flush=True); import time; time.sleep(300)"])
    sup.start()
    # "echo     | hello", not "hello": the "started" line quotes the command, which says hello too.
    found = wait_until(lambda: "echo     | hello" in out.getvalue() and re.search(r"grandchild (\d+)", out.getvalue()))
    grandchild = int(found.group(1))
    pids = [c.proc.pid for c in sup.children] + [grandchild]
    sup.stop()
    # SIGKILL was sent to every group; a busy kernel may take a moment to end the grandchild.
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout=10)
    assert "echo     | hello" in out.getvalue()


def test_wait_any_returns_the_child_that_exited():
    sup = Supervisor(out=io.StringIO(), grace=1.0)
    sup.add("quick", [sys.executable, "-c", "raise SystemExit(3)"])
    sup.add("slow", [sys.executable, "-c", "import time; time.sleep(300)"])
    sup.start()
    exited = sup.wait_any(threading.Event())
    sup.stop()
    assert exited.name == "quick" and exited.proc.returncode == 3
