"""Journal: the audit log, filtered on the server (actor, action, target, period), paginated, exported as CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, time, timedelta

from flask import Response, render_template, request
from flask_login import current_user

from models.audit import ACTION_LABELS, AuditFilter, audit_query, record
from models.calendar import PARIS
from models.permissions import AUDIT_READ
from webapp.admin import bp, client_ip, permission_required
from webapp.admin.common import paginate
from webapp.db import db
from webapp.inputs import MAX_ID, query_day, query_page, query_text

EXPORT_LIMIT = 50_000  # rows in one CSV; narrow the filters for more
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def filters() -> AuditFilter:
    """The journal's filters from the query string; a bad value is a 400 (webapp/inputs.py)."""
    actor = query_text("acteur", 254)
    since, until = query_day("du", FIRST_DAY, LAST_DAY), query_day("au", FIRST_DAY, LAST_DAY)
    actor_id = None
    if re.fullmatch(r"#[0-9]{1,10}", actor) and int(actor[1:]) <= MAX_ID:
        actor_id, actor = int(actor[1:]), ""
    return AuditFilter(
        actor_id=actor_id, actor_email=actor, action=query_text("action", 64), target=query_text("cible", 128),
        since=datetime.combine(since, time(0), PARIS) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(0), PARIS) if until else None)


@bp.get("/journal")
@permission_required(AUDIT_READ)
def journal():
    f = filters()
    return render_template("admin/journal.html", page=paginate(audit_query(f), query_page()), labels=ACTION_LABELS,
                           args=request.args)


def safe_cell(value) -> str:
    """A CSV cell no spreadsheet runs as a formula: a leading quote disarms one."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@bp.get("/journal.csv")
@permission_required(AUDIT_READ)
def journal_csv():
    f = filters()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "acteur", "adresse_acteur", "action", "cible", "ip", "avant", "apres", "details"])
    rows = 0
    for row, email in db().execute(audit_query(f).limit(EXPORT_LIMIT)):
        writer.writerow([safe_cell(v) for v in (
            row.created_at.astimezone(PARIS).isoformat(timespec="seconds"), row.actor_id, email, row.action,
            row.target, row.ip_address, _json(row.before), _json(row.after), _json(row.details))])
        rows += 1
    record(db(), "admin.audit.exported", actor_id=current_user.id, target="audit_log", ip=client_ip(),
           rows=rows, filters=f.as_dict())
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",  # the BOM: spreadsheets read UTF-8 then
                    headers={"Content-Disposition": "attachment; filename=journal-releve.csv",
                             "Cache-Control": "no-store"})
