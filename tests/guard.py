"""Run one command so that it cannot outlive the test session that started it.

    python tests/guard.py --parent PID [--grace S] -- COMMAND [ARG …]
    python tests/guard.py --parent PID --at-exit -- COMMAND [ARG …]

The first form starts COMMAND in a process group of its own and stops that whole group
(SIGTERM, then SIGKILL after `--grace` seconds) as soon as any of these happens: the guard
receives SIGTERM, SIGINT or SIGHUP; the parent process (the pytest session) exits for any
reason, SIGKILL included; COMMAND exits by itself while members of its group remain (a
Celery worker's pool processes). The guard is also a child subreaper, so a descendant that
left the group is reparented to it and killed at the end too. It exits with COMMAND's code.

The second form runs nothing at first: it waits for the parent to exit, then runs COMMAND
once (stopping an embedded server that detached itself, such as PostgreSQL's pg_ctl).

Standalone on purpose: it imports nothing from the project or from pytest, so it works
whatever state the test session is in.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pidfd/ppid watch below still works
        pass


def _parent_gone(parent: int) -> bool:
    return os.getppid() != parent


def children_of(pid: int) -> list[int]:
    """Direct children of a process, from every thread's list (Linux)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return found


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_descendants() -> None:
    """Kill and reap whatever was reparented to this subreaper, until nothing is left."""
    for _ in range(100):
        children = children_of(os.getpid())
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break


def _watch(parent: int, wakeup: int, child: subprocess.Popen | None) -> str:
    """Block until the parent exits ("parent"), a signal arrives ("signal") or the child exits ("child")."""
    try:
        pidfd = os.pidfd_open(parent)
    except (AttributeError, OSError):
        pidfd = None
    fds = [wakeup] + ([pidfd] if pidfd is not None else [])
    try:
        while True:
            if _parent_gone(parent):
                return "parent"
            if child is not None and child.poll() is not None:
                return "child"
            ready, _, _ = select.select(fds, [], [], 0.5)
            if wakeup in ready:
                return "signal"
            if pidfd is not None and pidfd in ready:
                return "parent"
    finally:
        if pidfd is not None:
            os.close(pidfd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parent", type=int, required=True, help="the pid whose exit ends COMMAND")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--at-exit", action="store_true", help="run COMMAND once the parent has exited")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND given")

    # Signals wake the select() through this pipe; the handlers do nothing else.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # the kernel's own word when the parent dies
    if _parent_gone(args.parent):
        return 0 if args.at_exit else 1

    if args.at_exit:
        _watch(args.parent, wake_r, None)
        return subprocess.run(command, stdin=subprocess.DEVNULL, check=False).returncode

    child = subprocess.Popen(command, start_new_session=True)
    why = _watch(args.parent, wake_r, child)
    if why != "child":
        _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + args.grace
        while time.monotonic() < deadline and (child.poll() is None or _group_alive(child.pid)):
            time.sleep(0.05)
    _signal_group(child.pid, signal.SIGKILL)  # what is left of the group (pool processes)
    code = child.wait()
    _reap_descendants()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
