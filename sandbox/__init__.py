"""Faithful emulators of Enedis Data Connect and the RTE data portal, over real HTTP.

`create_app(config)` builds the WSGI app serving both APIs on their upstream paths (only
base URLs change), the Enedis consent page and an admin API under `/_sandbox/` (clock,
faults, call log). `serve(host, port)` runs it; `python -m sandbox` too.

Standalone: nothing here imports `models`, `pipeline` or `webapp`.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

from flask import Flask, Response, g, request

from sandbox.core import Call, SandboxState, bearer_token, json_error, state

log = logging.getLogger(__name__)

ENEDIS_TOKEN_MAX_AGE = 12600
RTE_TOKEN_MAX_AGE = 7200


def api_of(path: str) -> str | None:
    """Which emulated upstream a path belongs to (None: admin, consent page, static)."""
    if path.startswith(("/oauth2/", "/metering_data_", "/customers_")):
        return "enedis"
    if path.startswith(("/token/oauth", "/open_api/")):
        return "rte"
    return None


def caller(api: str) -> str:
    """The client application behind this request: from its bearer token or its credentials."""
    token = bearer_token()
    if token:
        max_age = ENEDIS_TOKEN_MAX_AGE if api == "enedis" else RTE_TOKEN_MAX_AGE
        return state().token_client(api, token, max_age) or "unknown-token"
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            return base64.b64decode(header[6:]).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return "bad-basic"
    return request.form.get("client_id", "") or "anonymous"


def throttled(api: str, kind: str, retry_after: int) -> Response:
    """A 429 as each gateway sends it: with Retry-After, with nextAccessTime, or bare."""
    headers = {"Retry-After": str(retry_after)} if kind == "429" else {}
    if api == "rte":
        return json_error(429, {"error": "TOO_MANY_REQUESTS", "error_description": "Too many requests"}, headers)
    fault = {"code": 900807, "message": "Message throttled out",
             "description": "You have exceeded your quota"}
    if kind == "429-next-access":
        when = time.gmtime(state().time() + retry_after)
        stamp = time.strftime("%Y-%b-%d %H:%M:%S+0000 UTC", when)
        fault["description"] = f"You have exceeded your quota .You can access API after {stamp}"
        fault["nextAccessTime"] = stamp
    return json_error(429, {"fault": fault}, headers)


def apply_fault(api: str) -> Response | None:
    fault = state().take_fault(api, request.path, bearer=bool(bearer_token()))
    if fault is None:
        return None
    log.info("sandbox fault %s on %s %s", fault.kind, api, request.path)
    g.fault = fault  # faults shaping the answer itself (partial, revoke) are read by the blueprints
    g.call.fault = fault.kind
    if fault.kind.startswith("429"):
        return throttled(api, fault.kind, fault.retry_after)
    if fault.kind == "500":
        body = ({"error": "ADAM-DC-0500", "error_description": "Technical error"} if api == "enedis"
                else {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal error"})
        return json_error(500, body)
    if fault.kind == "503":
        return json_error(503, {"error": "service_unavailable", "error_description": "Service unavailable"})
    if fault.kind in ("slow", "timeout"):
        time.sleep(fault.delay)
        return None if fault.kind == "slow" else json_error(504, {"error": "gateway_timeout"})
    if fault.kind == "malformed":
        return Response('{"meter_reading": {"usage_point_id": ', status=200, mimetype="application/json")
    if fault.kind == "expired-token" and bearer_token():
        return json_error(401, {"fault": {"code": 900901, "message": "Invalid Credentials",
                                          "description": "Invalid Credentials. Make sure you have given the correct access token"}})
    return None


def _client_ids(value: Any) -> tuple[str, ...]:
    """REGISTER_CUSTOMERS as a tuple: one client id, a comma-separated string, or a list."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(item).strip() for item in items if str(item).strip())


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The sandbox app. Config keys: SANDBOX_SECRET, RATE_PER_SECOND, RATE_PER_HOUR,
    ECOWATT_INTERVAL, CLIENTS ({client_id: secret}; default: any non-empty pair),
    REGISTER_CUSTOMERS (client ids whose consent register holds the nine test customers
    from the start; default none) and REGISTER_ALL (every PRM counts as consented to every
    client, for tests and benchmarks that use made-up PRMs; default False)."""
    from sandbox import admin, enedis, rte

    config = config or {}
    app = Flask(__name__)
    app.config.update(config)
    app.extensions["sandbox"] = SandboxState(
        secret=config.get("SANDBOX_SECRET", "releve-sandbox"),
        rate_per_second=int(config.get("RATE_PER_SECOND", 5)),
        rate_per_hour=int(config.get("RATE_PER_HOUR", 10_000)),
        ecowatt_interval=int(config.get("ECOWATT_INTERVAL", 15 * 60)),
        clients=config.get("CLIENTS"),
        register_all=bool(config.get("REGISTER_ALL", False)),
        register_customers=_client_ids(config.get("REGISTER_CUSTOMERS")),
    )

    @app.before_request
    def gateway():
        api = api_of(request.path)
        g.call = Call(t=time.time(), api=api or "-", client="", method=request.method, path=request.path,
                      query=request.query_string.decode(errors="replace"))
        if api is None:
            return None
        g.call.client = caller(api)
        answer = apply_fault(api)
        if answer is not None:
            return answer
        if api == "enedis" and not state().take_quota(g.call.client):
            return throttled("enedis", "429-next-access", 1)
        return None

    @app.after_request
    def record(response: Response) -> Response:
        call = g.get("call")
        if call is not None and call.api != "-":
            call.status = response.status_code
            call.duration = time.time() - call.t
            state().log(call)
        return response

    app.register_blueprint(enedis.bp)
    app.register_blueprint(rte.bp)
    app.register_blueprint(admin.bp)
    return app


def serve(host: str = "127.0.0.1", port: int = 8800, config: dict[str, Any] | None = None) -> None:
    """Serve the sandbox until interrupted (threaded, one thread per connection)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, create_app(config), threaded=True)
    log.info("sandbox serving on http://%s:%d", host, port)
    print(f"Sandbox (Enedis + RTE) on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
