"""Run a sandbox on a free port in a background thread, for tests and benchmarks."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server

from sandbox import create_app
from sandbox.core import SandboxState


@dataclass
class RunningSandbox:
    url: str
    state: SandboxState
    app: Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_sandbox(config: dict[str, Any] | None = None, port: int | None = None) -> Iterator[RunningSandbox]:
    app = create_app(config)
    server = make_server("127.0.0.1", port or free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="sandbox", daemon=True)
    thread.start()
    try:
        yield RunningSandbox(f"http://127.0.0.1:{server.server_port}", app.extensions["sandbox"], app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
