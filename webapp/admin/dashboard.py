"""Tableau de bord: the gateway at work (pipeline/monitoring.py reads it)."""

from __future__ import annotations

from flask import render_template

from models.permissions import SYSTEM_READ
from pipeline import monitoring
from webapp.admin import bp, permission_required
from webapp.db import db
from webapp.extensions import settings
from webapp.health import BEAT_STALE_AFTER, WORKER_STALE_AFTER

STATUS_FR = {"active": "Actifs", "consent_needed": "Consentement à renouveler"}


@bp.get("")
@permission_required(SYSTEM_READ)
def dashboard():
    return render_template("admin/dashboard.html", parts=monitoring.collect(db(), settings()), status_fr=STATUS_FR,
                           beat_stale=BEAT_STALE_AFTER, worker_stale=WORKER_STALE_AFTER)
