"""The sandbox's own admin API under `/_sandbox/`: clock, faults, consents, contract changes and the call log.

Tests and benchmarks drive the sandbox through it over HTTP (or, in-process, through
`SandboxState` directly). It is a development tool with no authentication: never expose
the sandbox beyond localhost.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

import re

from sandbox.core import FAULT_KINDS, call_as_dict, fault_as_dict, json_error, parse_moment, state

bp = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")


@bp.get("/clock")
def get_clock():
    s = state()
    return jsonify(now=s.now().isoformat(), frozen=s.frozen_at is not None)


@bp.post("/clock")
def set_clock():
    """Body `{"now": ISO 8601, "frozen": bool}` moves the clock; `{"reset": true}` restores it."""
    body = request.get_json(silent=True) or {}
    try:
        when = None if body.get("reset") else parse_moment(str(body["now"]))
    except (KeyError, ValueError):
        return json_error(400, {"error": "invalid_request", "error_description": "give now (ISO 8601) or reset"})
    state().set_clock(when, frozen=bool(body.get("frozen")))
    return get_clock()


@bp.get("/faults")
def list_faults():
    return jsonify(faults=[fault_as_dict(f) for f in state().faults], kinds=list(FAULT_KINDS))


@bp.post("/faults")
def add_fault():
    """Body `{"kind", "api", "calls", "seconds", "retry_after", "delay", "path", "prm", "points"}`."""
    body = request.get_json(silent=True) or {}
    options = {k: body[k] for k in ("api", "calls", "retry_after", "delay", "path", "prm", "points") if k in body}
    try:
        fault = state().add_fault(str(body.get("kind", "")), seconds=body.get("seconds"), **options)
    except (TypeError, ValueError) as exc:
        return json_error(400, {"error": "invalid_request", "error_description": str(exc)})
    return jsonify(fault_as_dict(fault)), 201


@bp.delete("/faults")
def clear_faults():
    state().clear_faults()
    return "", 204


PRM_RE = re.compile(r"^[0-9]{14}$")


@bp.get("/consents")
def list_consents():
    """The consent register: `{client_id: [PRM, …]}` and whether every PRM counts as consented."""
    return jsonify(consents=state().register_of(), register_all=state().register_all)


def _consents_body(prms_required: bool):
    """(client_id, prms or None) from a body `{"client_id": …, "prms": [PRM, …]}`, or an error answer."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    client_id, prms = body.get("client_id"), body.get("prms")
    if not isinstance(client_id, str) or not client_id or len(client_id) > 200:
        return None, json_error(400, {"error": "invalid_request", "error_description": "client_id is required"})
    if prms is None and not prms_required:
        return (client_id, None), None
    if not isinstance(prms, list) or not all(isinstance(p, str) and PRM_RE.match(p) for p in prms):
        return None, json_error(400, {"error": "invalid_request", "error_description": "prms: a list of 14-digit PRMs"})
    return (client_id, prms), None


@bp.post("/consents")
def add_consents():
    """Body `{"client_id", "prms": [...]}`: these PRMs consented to that application."""
    found, problem = _consents_body(prms_required=True)
    if problem:
        return problem
    client_id, prms = found
    state().register(client_id, prms)
    return jsonify(client_id=client_id, prms=state().register_of().get(client_id, [])), 201


@bp.delete("/consents")
def remove_consents():
    """Body `{"client_id", "prms"?}`: those consents (or all of the client's) are withdrawn."""
    found, problem = _consents_body(prms_required=False)
    if problem:
        return problem
    state().unregister(*found)
    return "", 204


@bp.post("/contracts")
def change_contract():
    """Body `{"prm": PRM, "offpeak_hours": "HC (…)" | null}`: that contract now states these off-peak hours."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    prm, hours = body.get("prm"), body.get("offpeak_hours")
    if not isinstance(prm, str) or not PRM_RE.match(prm):
        return json_error(400, {"error": "invalid_request", "error_description": "prm: a 14-digit PRM"})
    if hours is not None and (not isinstance(hours, str) or len(hours) > 200):
        return json_error(400, {"error": "invalid_request", "error_description": "offpeak_hours: text or null"})
    state().change_offpeak(prm, hours)
    return jsonify(prm=prm, offpeak_hours=hours), 201


@bp.delete("/contracts")
def reset_contracts():
    """Every contract states its generated off-peak hours again."""
    with state().lock:
        state().offpeak_changes.clear()
    return "", 204


@bp.get("/calls")
def list_calls():
    """The call log (time, api, client, path, status), from `since` (epoch seconds)."""
    since = request.args.get("since", type=float, default=0.0)
    return jsonify(calls=[call_as_dict(c) for c in state().calls_since(since)])


@bp.delete("/calls")
def clear_calls():
    with state().lock:
        state().calls.clear()
    return "", 204


@bp.post("/reset")
def reset():
    state().reset()
    return "", 204
