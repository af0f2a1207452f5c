"""No process started by a test run outlives it: tests/guard.py and the run's last sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests_helpers import GUARD, pid_alive

TESTS = Path(__file__).resolve().parent

# A command whose group holds a grandchild, and which ignores SIGTERM: a stubborn worker and its pool.
STUBBORN = textwrap.dedent("""
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    print(child.pid, flush=True)
    time.sleep(300)
""")


def alive(pid: int) -> bool:
    if not pid_alive(pid):
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for its parent is dead for our purpose
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def start_parent(tmp_path: Path, command: str, grace: float = 1.0) -> tuple[subprocess.Popen, list[int]]:
    """A stand-in for a pytest process: it starts COMMAND under the guard and prints the guard's pid."""
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        guard = subprocess.Popen([sys.executable, {str(GUARD)!r}, "--parent", str(__import__("os").getpid()),
                                  "--grace", "{grace}", "--", sys.executable, "-c", {command!r}],
                                 stdout=open({str(tmp_path / "out")!r}, "w"))
        print(guard.pid, flush=True)
        time.sleep(300)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    guard = int(parent.stdout.readline())
    parent.stdout.close()
    return parent, [guard]


def read_grandchild(tmp_path: Path, wait_until) -> int:
    return int(wait_until(lambda: (tmp_path / "out").read_text().strip(), timeout=20))


def command_pid(guard: int, wait_until) -> int:
    from tests_helpers import children_of

    return wait_until(lambda: children_of(guard)[0] if children_of(guard) else None, timeout=20)


def test_sigkill_of_the_parent_stops_the_command_and_its_group(tmp_path, wait_until):
    parent, (guard,) = start_parent(tmp_path, STUBBORN)
    command = command_pid(guard, wait_until)
    grandchild = read_grandchild(tmp_path, wait_until)
    parent.kill()  # as if pytest were killed outright: no finaliser runs
    parent.wait()
    wait_until(lambda: not any(alive(p) for p in (guard, command, grandchild)), timeout=30)


def test_sigterm_to_the_guard_escalates_to_sigkill_after_the_grace(tmp_path, wait_until):
    parent, (guard,) = start_parent(tmp_path, STUBBORN, grace=0.5)
    try:
        command = command_pid(guard, wait_until)
        grandchild = read_grandchild(tmp_path, wait_until)
        os.kill(guard, signal.SIGTERM)  # the command ignores SIGTERM: the guard must kill it
        wait_until(lambda: not any(alive(p) for p in (guard, command, grandchild)), timeout=30)
    finally:
        parent.kill()
        parent.wait()


def test_a_command_that_exits_leaves_no_group_member(tmp_path, wait_until):
    leaves = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"
              "print(p.pid, flush=True)")
    parent, (guard,) = start_parent(tmp_path, leaves)
    try:
        grandchild = read_grandchild(tmp_path, wait_until)
        wait_until(lambda: not alive(grandchild) and not alive(guard), timeout=30)
    finally:
        parent.kill()
        parent.wait()


def test_a_run_that_leaves_a_process_fails_and_the_process_is_killed(tmp_path):
    (tmp_path / "test_leak.py").write_text(textwrap.dedent("""
        import subprocess

        def test_escapes_every_guard(tmp_path):
            proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
            (tmp_path.parent.parent / "leaked").write_text(str(proc.pid))
    """))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "process_guard", "-p", "no:cacheprovider",
                             "--basetemp", str(tmp_path / "base"), "-c", str(tmp_path / "pytest.ini"),
                             str(tmp_path / "test_leak.py")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout and "outlived it" in result.stdout
    leaked = int((tmp_path / "leaked").read_text())
    assert f"{leaked}: sleep 300" in result.stdout
    assert not alive(leaked)
