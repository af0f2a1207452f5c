"""gunicorn's logger for `releve web`: no secret a URL carries reaches a log line.

The verification and password-reset links carry their single-use token in the path (a route
argument named `token`; a test checks every such route against TOKEN_IN_PATH). The access log
shows the path without its query string (ACCESS_LOG_FORMAT in releve/cli.py) and with those
tokens masked; gunicorn's own error lines (a malformed request quotes its request line, a crash
its URI) get the tokens and the whole query string masked.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

MASK = "[redacted]"
TOKEN_IN_PATH = re.compile(r"(/(?:verifier|nouveau-mot-de-passe)/+)(?!renvoyer\b)[^/?#\s'\"]+", re.IGNORECASE)
QUERY = re.compile(r"\?[^\s'\"]*")


def redact(text: str) -> str:
    """`text` with every token of a path masked."""
    return TOKEN_IN_PATH.sub(rf"\g<1>{MASK}", text)


def redact_uri(text: str) -> str:
    """`text` with path tokens and query strings masked (states, codes, PDL numbers live there)."""
    return QUERY.sub(f"?{MASK}", redact(text))


class _RedactMessages(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact_uri(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class RedactingLogger(Logger):
    """gunicorn's Logger, masking tokens in every access-log atom and in its own error lines."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if not any(isinstance(f, _RedactMessages) for f in self.error_log.filters):  # setup() runs again on reload
            self.error_log.addFilter(_RedactMessages())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}
