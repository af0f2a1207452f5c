"""Run child processes with prefixed logs; restart what exits or goes down; stop them all, leaving no orphan."""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

COLOURS = itertools.cycle(["36", "33", "32", "35", "34", "31"])
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: start a new process group and get SIGTERM if the supervisor dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass


@dataclass
class Backoff:
    """Waits before a restart: `first` seconds, doubled at each quick failure up to `longest`; back to
    `first` once the thing restarted has stayed up `stable_after` seconds."""

    first: float = 1.0
    longest: float = 30.0
    stable_after: float = 60.0
    failures: int = 0

    def next(self, ran_for: float) -> float:
        self.failures = 1 if ran_for >= self.stable_after else self.failures + 1
        return min(self.longest, self.first * 2 ** (self.failures - 1))


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    pump: threading.Thread | None = field(default=None, repr=False)
    colour: str = "0"
    started_at: float = 0.0
    restart_at: float | None = None  # when an exited child starts again
    restarts: int = 0
    backoff: Backoff = field(default_factory=Backoff)


@dataclass
class Service:
    """Something the supervisor did not start as a child but keeps up (an embedded server):
    `alive()` says whether it answers, `restart()` starts it again on its data."""

    name: str
    alive: Callable[[], bool]
    restart: Callable[[], object]
    what: str = ""  # said when restarting, e.g. "on its data in var/valkey"
    down_since: float | None = None
    retry_at: float = 0.0
    backoff: Backoff | None = None  # the supervisor's, unless given


class Supervisor:
    """Start named commands, prefix their output, restart what exits, and stop every process group on exit."""

    def __init__(self, out=None, grace: float = 10.0, backoff: Backoff | None = None, check_every: float = 1.0):
        self.children: list[Child] = []
        self.out = out or sys.stdout
        self.grace = grace
        self.backoff = backoff or Backoff()
        self.check_every = check_every  # seconds between two looks at the services
        self._lock = threading.Lock()
        self._width = 8
        self._colour = self.out.isatty() if hasattr(self.out, "isatty") else False

    def add(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.children.append(Child(name, argv, env, colour=next(COLOURS), backoff=self._new_backoff()))
        self._width = max(self._width, len(name))

    def _new_backoff(self) -> Backoff:
        return Backoff(self.backoff.first, self.backoff.longest, self.backoff.stable_after)

    def print(self, name: str, line: str, colour: str = "0") -> None:
        prefix = f"{name:<{self._width}} | "
        if self._colour:
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self._lock:
            self.out.write(prefix + line.rstrip("\n") + "\n")
            self.out.flush()

    def _pump(self, child: Child, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.print(child.name, line, child.colour)

    def _spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(
            child.argv, env=child.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1, preexec_fn=_die_with_parent,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        again = f", restart {child.restarts}" if child.restarts else ""
        self.print(child.name, f"started (pid {child.proc.pid}{again}): {' '.join(child.argv)}", child.colour)
        child.pump = threading.Thread(target=self._pump, args=(child, child.proc), daemon=True)
        child.pump.start()

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _reap(self, child: Child) -> None:
        """The leader exited: end what is left of its group (pool processes), close its output."""
        self._signal_group(child, signal.SIGKILL)
        if child.pump is not None:
            child.pump.join(timeout=5)  # the pipe closes once the whole group is gone
        child.proc.stdout.close()

    def watch(self, stop: threading.Event, services: Sequence[Service] = ()) -> None:
        """Until `stop` is set: start again, after a backoff, every child that exits, and every
        service found down. Each restart is said on the child's or the service's line."""
        for service in services:
            service.backoff = service.backoff or self._new_backoff()
        next_look = 0.0
        while not stop.wait(0.2):
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is None and child.proc is not None and child.proc.poll() is not None:
                    delay = child.backoff.next(now - child.started_at)
                    child.restart_at = now + delay
                    self._reap(child)
                    self.print(child.name, f"exited with {child.proc.returncode}: restarting in {delay:g} s",
                               child.colour)
                elif child.restart_at is not None and now >= child.restart_at and not stop.is_set():
                    child.restarts += 1
                    self._spawn(child)
            if now >= next_look:
                next_look = now + self.check_every
                for service in services:
                    if stop.is_set():
                        break
                    self._look_after(service, now)

    def _look_after(self, service: Service, now: float) -> None:
        if service.down_since is None:
            if service.alive():
                return
            service.down_since = now
            service.retry_at = now
            self.print(service.name, f"is down: restarting it{' ' + service.what if service.what else ''}")
        if now < service.retry_at:
            return
        try:
            service.restart()
        except Exception as exc:  # noqa: BLE001 - said, and tried again later
            delay = service.backoff.next(0.0)
            service.retry_at = time.monotonic() + delay
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.print(service.name, f"could not restart ({first}): trying again in {delay:g} s")
            return
        self.print(service.name, f"back after {time.monotonic() - service.down_since:.0f} s")
        service.down_since = None
        service.backoff.failures = 0

    def stop(self) -> None:
        """SIGTERM every process group, wait `grace` seconds, then SIGKILL what is left."""
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            self._signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for child in running:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.print(child.name, "did not stop in time: killing")
        # Kill whatever is left in each group (grandchildren such as worker pool processes).
        for child in self.children:
            if child.proc is not None and not child.proc.stdout.closed:
                self._signal_group(child, signal.SIGKILL)
                child.proc.wait()
                if child.pump is not None:
                    child.pump.join(timeout=5)  # the pipe closes once the whole group is gone
                child.proc.stdout.close()
                self.print(child.name, f"stopped ({child.proc.returncode})")

    @staticmethod
    def _signal_group(child: Child, sig: int) -> None:
        try:
            os.killpg(child.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
