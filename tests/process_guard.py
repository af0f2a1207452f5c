"""Pytest hooks: no process started by a test run outlives it.

Every process the run starts inherits RUN_MARK (set here, before any test). Processes run
under tests/guard.py, which stops them when the run ends in any way, SIGKILL included.
At the end of the run the hooks stop every guard, then look for any process still carrying
the mark: each is killed, listed, and the run fails. SIGTERM is turned into the same clean
interruption as Ctrl-C, so fixtures are torn down.

Loaded by tests/conftest.py; `python -m pytest -p process_guard` (tests/ on the path)
loads it alone, as tests/test_process_guard.py does.
"""

from __future__ import annotations

import atexit
import os
import signal
import uuid

import pytest

from tests_helpers import RUN_MARK, stop_every_guard, survivors


def _interrupted_by_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # pytest then tears fixtures down as for Ctrl-C


def pytest_configure(config):
    os.environ[RUN_MARK] = uuid.uuid4().hex  # inherited by every process this run starts
    signal.signal(signal.SIGTERM, _interrupted_by_sigterm)
    # A shell starts background jobs with SIGINT ignored, and Python then keeps it ignored: take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    atexit.register(stop_every_guard)


@pytest.hookimpl(trylast=True)  # after the session fixtures' own finalisers
def pytest_sessionfinish(session, exitstatus):
    stop_every_guard()
    left = survivors(os.environ[RUN_MARK], exclude=os.getpid())
    if not left:
        return
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    lines = "\n".join(f"  {pid}: {cmd}" for pid, cmd in sorted(left.items()))
    session.config.get_terminal_writer().line(f"\nProcesses of this test run outlived it (killed now):\n{lines}",
                                              red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
