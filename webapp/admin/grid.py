"""Tempo (the season's calendar, a refresh from RTE, manual corrections) and EcoWatt (signals, a refresh)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from models import tempo as tempo_days
from models.calendar import tempo_season_start
from models.ecowatt import EcoWattSignal
from models.grid import tempo as tempo_rules
from models.permissions import ECOWATT_REFRESH, TEMPO_EDIT
from models.tempo import TempoDay
from models.users import User
from pipeline import grid
from pipeline.ratelimit import LimiterUnavailable
from webapp.admin import bp, client_ip, permission_required
from webapp.admin.common import done, refused
from webapp.admin.forms import COLOURS_FR, ActionForm, TempoCorrectionForm, TempoDayForm
from webapp.clock import now_paris
from webapp.db import db
from webapp.extensions import celery
from webapp.inputs import parse_day

FIRST_SEASON = 2014  # Tempo's data at RTE starts with the 2014–2015 season
ECOWATT_DAY_FR = {1: "Vert", 2: "Orange", 3: "Rouge"}


def correction_bounds(today: date) -> tuple[date, date]:
    """Days a correction may name: from the first season RTE serves to tomorrow."""
    return date(FIRST_SEASON, 9, 1), today + timedelta(days=1)


def _season_arg(today: date) -> date:
    """?saison=YYYY (the season starting 1 September of YYYY), the current one by default; else a 400."""
    raw = request.args.get("saison", "")
    current = tempo_season_start(today)
    if not raw:
        return current
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4 and FIRST_SEASON <= int(raw) <= current.year):
        abort(400)
    return date(int(raw), 9, 1)


def _tempo_page(form=None, status: int = 200):
    today = now_paris().date()
    first, last = tempo_rules.season(_season_arg(today))
    corrector = aliased(User)
    rows = db().execute(select(TempoDay, corrector.email).outerjoin(corrector, corrector.id == TempoDay.corrected_by_id)
                        .where(TempoDay.day >= first, TempoDay.day <= last).order_by(TempoDay.day)).all()
    count = tempo_rules.count_season(first, last, [r[0].colour for r in rows])
    seasons = list(range(tempo_season_start(today).year, FIRST_SEASON - 1, -1))
    return render_template("admin/tempo.html", rows=rows, count=count, first=first, last=last, names=COLOURS_FR,
                           form=form or TempoCorrectionForm(formdata=None), seasons=seasons,
                           fetched=max((r[0].fetched_at for r in rows), default=None)), status


@bp.get("/tempo")
@permission_required(TEMPO_EDIT)
def tempo():
    return _tempo_page()


@bp.post("/tempo/actualiser")
@permission_required(TEMPO_EDIT)
def refresh_tempo():
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    grid.refresh_tempo(db(), celery(), actor_id=current_user.id, ip=client_ip())
    return done("Actualisation du calendrier Tempo demandée à RTE : un worker s'en charge.", url_for("admin.tempo"))


@bp.post("/tempo/corriger")
@permission_required(TEMPO_EDIT)
def correct_tempo():
    form = TempoCorrectionForm()
    if not form.validate_on_submit():
        return _tempo_page(form, 400)
    first, last = correction_bounds(now_paris().date())
    day = parse_day(form.day.data.strip(), first, last)
    if day is None:
        form.day.errors.append(f"Un jour au format AAAA-MM-JJ, du {first:%d/%m/%Y} au {last:%d/%m/%Y}.")
        return _tempo_page(form, 400)
    tempo_days.correct(db(), day, form.colour.data, actor_id=current_user.id, ip=client_ip(), now=datetime.now(UTC),
                       reason=(form.reason.data or "").strip())
    return done(f"Le {day:%d/%m/%Y} est {COLOURS_FR[form.colour.data].lower()}, par correction manuelle.",
                url_for("admin.tempo", saison=tempo_season_start(day).year))


@bp.post("/tempo/retirer-correction")
@permission_required(TEMPO_EDIT)
def remove_tempo_correction():
    form = TempoDayForm()
    if not form.validate_on_submit():
        return refused("Formulaire invalide.", 400)
    first, last = correction_bounds(now_paris().date())
    day = parse_day(form.day.data.strip(), first, last)
    if day is None:
        return refused("Jour invalide.", 400)
    if tempo_days.remove_correction(db(), day, actor_id=current_user.id, ip=client_ip()) is None:
        return refused("Ce jour n'a pas de correction manuelle.")
    return done(f"Le {day:%d/%m/%Y} reprend la couleur donnée par RTE.",
                url_for("admin.tempo", saison=tempo_season_start(day).year))


# -- EcoWatt ---------------------------------------------------------------------------------------


@bp.get("/ecowatt")
@permission_required(ECOWATT_REFRESH)
def ecowatt():
    today = now_paris().date()
    rows = list(db().scalars(select(EcoWattSignal).where(EcoWattSignal.day >= today - timedelta(days=7))
                             .order_by(EcoWattSignal.day.desc())))
    try:
        wait = grid.ecowatt_wait(celery())
    except LimiterUnavailable:  # Valkey down: the page still shows the signals
        wait = None
    return render_template("admin/ecowatt.html", rows=rows, wait=wait, labels=ECOWATT_DAY_FR, today=today)


@bp.post("/ecowatt/actualiser")
@permission_required(ECOWATT_REFRESH)
def refresh_ecowatt():
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    try:
        grid.refresh_ecowatt(db(), celery(), actor_id=current_user.id, ip=client_ip())
    except grid.TooSoon as exc:
        minutes = max(1, round(exc.wait / 60))
        return refused(f"RTE ne permet qu'un appel EcoWatt par quart d'heure : prochain appel possible dans "
                       f"{minutes} minute{'s' if minutes > 1 else ''}.", 429)
    except LimiterUnavailable:
        return refused("Valkey ne répond pas : impossible de savoir si le quart d'heure est passé. Réessayez.", 503)
    return done("Actualisation EcoWatt demandée à RTE : un worker s'en charge.", url_for("admin.ecowatt"))
