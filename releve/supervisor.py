"""Run child processes with prefixed logs; stop them all, leaving no orphan."""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
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
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    pump: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    """Start named commands, prefix their output, and stop every process group on exit."""

    def __init__(self, out=None, grace: float = 10.0):
        self.children: list[Child] = []
        self.out = out or sys.stdout
        self.grace = grace
        self._lock = threading.Lock()
        self._width = 8
        self._colour = self.out.isatty() if hasattr(self.out, "isatty") else False

    def add(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.children.append(Child(name, argv, env))
        self._width = max(self._width, len(name))

    def print(self, name: str, line: str, colour: str = "0") -> None:
        prefix = f"{name:<{self._width}} | "
        if self._colour:
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self._lock:
            self.out.write(prefix + line.rstrip("\n") + "\n")
            self.out.flush()

    def _pump(self, child: Child, colour: str) -> None:
        assert child.proc is not None and child.proc.stdout is not None
        for line in child.proc.stdout:
            self.print(child.name, line, colour)

    def start(self) -> None:
        for child in self.children:
            colour = next(COLOURS)
            child.proc = subprocess.Popen(
                child.argv, env=child.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, bufsize=1, preexec_fn=_die_with_parent,
            )
            self.print(child.name, f"started (pid {child.proc.pid}): {' '.join(child.argv)}", colour)
            child.pump = threading.Thread(target=self._pump, args=(child, colour), daemon=True)
            child.pump.start()

    def wait_any(self, stop: threading.Event) -> Child | None:
        """Block until `stop` is set or a child exits; return the child that exited."""
        while not stop.wait(0.2):
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    return child
        return None

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
            if child.proc is not None:
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
