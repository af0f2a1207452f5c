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
    server: Any = None
    thread: threading.Thread | None = None

    def serve(self, port: int) -> None:
        self.server = make_server("127.0.0.1", port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="sandbox", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop answering: the port refuses connections, as when the upstream is down (`start()` again)."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.server = self.thread = None

    def start(self) -> None:
        """Answer again on the same port, with the same state (call log, quotas, consents)."""
        if self.server is None:
            self.serve(int(self.url.rsplit(":", 1)[1]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_sandbox(config: dict[str, Any] | None = None, port: int | None = None) -> Iterator[RunningSandbox]:
    app = create_app(config)
    sandbox = RunningSandbox("", app.extensions["sandbox"], app)
    sandbox.serve(port or free_port())
    sandbox.url = f"http://127.0.0.1:{sandbox.server.server_port}"
    try:
        yield sandbox
    finally:
        sandbox.stop()
