import pytest

from sandbox.testing import running_sandbox


@pytest.fixture
def sandbox():
    """A fresh sandbox over real HTTP on a free port; `.url`, `.state` (clock, faults, calls)."""
    with running_sandbox({"REGISTER_ALL": True}) as running:
        yield running
