"""Small helpers shared by tests (importable because tests/ is on sys.path via conftest)."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_tmp_dir(prefix: str) -> Path:
    """A temp dir other local users can traverse (the embedded PostgreSQL runs as `pgserver`)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
