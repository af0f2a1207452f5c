"""The supervisor stops children and their own children, leaving no orphan."""

import io
import os
import re
import sys
import threading

from releve.supervisor import Backoff, Service, Supervisor

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


def test_backoff_doubles_on_quick_failures_up_to_its_longest_and_starts_over_after_a_stable_run():
    backoff = Backoff(first=1, longest=5, stable_after=60)
    assert [backoff.next(ran_for=2) for _ in range(5)] == [1, 2, 4, 5, 5]
    assert backoff.next(ran_for=61) == 1  # it had run a good while: a new failure, not one more of the same
    assert backoff.next(ran_for=0) == 2


def run_watch(sup, services=()):
    stop = threading.Event()
    thread = threading.Thread(target=sup.watch, args=(stop, services), daemon=True)
    thread.start()
    return stop, thread


def test_a_child_that_exits_is_started_again_with_backoff_and_the_others_run_on(wait_until):
    out = io.StringIO()
    sup = Supervisor(out=out, grace=1.0, backoff=Backoff(first=0.1, longest=0.4, stable_after=60))
    sup.add("quick", [sys.executable, "-c", "print('up', flush=True); raise SystemExit(3)"])
    sup.add("slow", [sys.executable, "-c", "import time; time.sleep(300)"])
    sup.start()
    slow = sup.children[1].proc
    stop, thread = run_watch(sup)
    try:
        wait_until(lambda: out.getvalue().count("exited with 3: restarting in 0.4 s") >= 2, timeout=60)
    finally:
        stop.set()
        thread.join(timeout=30)
    restarted = sup.children[0].proc
    sup.stop()
    log = out.getvalue()
    for delay in ("0.1", "0.2", "0.4"):  # doubled at each quick failure, up to the longest wait
        assert f"quick    | exited with 3: restarting in {delay} s" in log
    assert "quick    | started (pid " in log and ", restart 3): " in log
    assert log.count("slow     | started (pid ") == 1 and sup.children[1].proc is slow  # never touched
    assert "stopping everything" not in log
    wait_until(lambda: not alive(slow.pid) and not alive(restarted.pid), timeout=10)


def test_a_service_found_down_is_restarted_and_a_failed_restart_is_tried_again(wait_until):
    out = io.StringIO()
    state = {"up": True, "attempts": 0}

    def restart():
        state["attempts"] += 1
        if state["attempts"] == 1:
            raise RuntimeError("address in use\nsecond line")
        state["up"] = True

    service = Service("valkey", lambda: state["up"], restart, "on its append-only file")
    sup = Supervisor(out=out, backoff=Backoff(first=0.1, longest=1, stable_after=60), check_every=0.1)
    stop, thread = run_watch(sup, [service])
    try:
        state["up"] = False
        wait_until(lambda: "back after" in out.getvalue(), timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)
    lines = out.getvalue().splitlines()
    assert lines == ["valkey   | is down: restarting it on its append-only file",
                     "valkey   | could not restart (address in use): trying again in 0.1 s",
                     lines[2]]
    assert lines[2].startswith("valkey   | back after ") and state == {"up": True, "attempts": 2}
