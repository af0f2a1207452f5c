"""Which paths answer their errors in JSON, and how: an API registers its prefix and its renderer.

The app's error handlers (404, 403, 400, 405, 413, 500, and the 503 of an outage) ask
`renderer()` first: under a registered prefix the answer is the API's JSON, never a page.
Renderers are kept per app (`app.extensions`), so each app built (tests build many) has its own.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, current_app, request

# status, headers to add (Retry-After) → the API's JSON answer
Renderer = Callable[[int, dict[str, str]], Response]


def register(app: Flask, prefix: str, render: Renderer) -> None:
    """Errors of requests whose path starts with `prefix` are answered by `render`."""
    app.extensions.setdefault("releve_json_errors", []).append((prefix, render))


def renderer() -> Renderer | None:
    """The renderer of this request's path, if an API registered one for it."""
    for prefix, render in current_app.extensions.get("releve_json_errors", ()):
        if request.path.startswith(prefix):
            return render
    return None


def answer(status: int, headers: dict[str, str] | None = None) -> Response | None:
    """The JSON error answer of this request's API, None when its path belongs to no API."""
    render = renderer()
    return None if render is None else render(status, headers or {})
