"""Jours EJP et Sobriété: the calendars the cost engine prices EJP and Zen Flex offers with, edited here (audited).

The same rules as the data files and `releve calendar` (models.day_calendars): EJP days fall between
1 November and 31 March; a day not listed is an ordinary day only inside the span declared complete.
"""

from __future__ import annotations

from datetime import date

from flask import abort, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from models import day_calendars as cal
from models.calendar import tempo_season_start
from models.permissions import TEMPO_EDIT
from webapp.admin import bp, client_ip, permission_required
from webapp.admin.common import done, refused
from webapp.admin.forms import CoverageForm, SpecialDayForm, SpecialDayRemoveForm
from webapp.clock import now_paris
from webapp.db import db
from webapp.inputs import parse_day

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
KIND_CHOICES = [SelectChoice(k, cal.KIND_LABELS[k]) for k in cal.SPECIAL_KINDS]


def _kind_arg() -> str:
    kind = request.args.get("calendrier", "ejp")
    if kind not in cal.SPECIAL_KINDS:
        abort(400)
    return kind


def _season_arg(today: date) -> date:
    """?saison=YYYY (the season starting 1 September of YYYY), the current one by default; else a 400."""
    raw = request.args.get("saison", "")
    if not raw:
        return tempo_season_start(today)
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4 and FIRST_DAY.year <= int(raw) < LAST_DAY.year):
        abort(400)
    return date(int(raw), 9, 1)


def _with_kinds(form):
    form.kind.choices = KIND_CHOICES
    return form


def _page(kind: str | None = None, season: date | None = None, day_form=None, coverage_form=None, status: int = 200):
    today = now_paris().date()
    kind = kind or _kind_arg()
    season = season or _season_arg(today)
    end = date(season.year + 1, 9, 1)
    days = cal.special_days(db(), kind, season, end)
    known = cal.coverage(db()).get(kind)
    seasons = list(range(tempo_season_start(today).year + 1, 2013, -1))
    return render_template(
        "admin/special_days.html", kind=kind, kinds=cal.KIND_LABELS, season=season, end=end, days=days, known=known,
        quota=cal.SEASON_QUOTAS[kind], seasons=seasons,
        day_form=day_form or _with_kinds(SpecialDayForm(formdata=None, data={"kind": kind})),
        coverage_form=coverage_form or _with_kinds(CoverageForm(formdata=None, data={"kind": kind}))), status


def _back(kind: str, day: date) -> str:
    return url_for("admin.special_days", calendrier=kind, saison=tempo_season_start(day).year)


@bp.get("/jours-speciaux")
@permission_required(TEMPO_EDIT)
def special_days():
    return _page()


@bp.post("/jours-speciaux/marquer")
@permission_required(TEMPO_EDIT)
def mark_special_day():
    form = _with_kinds(SpecialDayForm())
    if not form.validate_on_submit():
        return _page("ejp", day_form=form, status=400)
    day = parse_day(form.day.data.strip(), FIRST_DAY, LAST_DAY)
    if day is None:
        form.day.errors.append("Un jour au format AAAA-MM-JJ.")
        return _page(form.kind.data, day_form=form, status=400)
    try:
        added = cal.mark_day(db(), form.kind.data, day, (form.source.data or "").strip(), actor_id=current_user.id,
                             ip=client_ip())
    except cal.CalendarError:
        db().rollback()
        form.day.errors.append("Les jours EJP tombent entre le 1er novembre et le 31 mars.")
        return _page(form.kind.data, tempo_season_start(day), day_form=form, status=400)
    label = cal.KIND_LABELS[form.kind.data]
    if not added:
        return done(f"Le {day:%d/%m/%Y} était déjà un jour {label}.", _back(form.kind.data, day))
    over = cal.over_quota(db(), form.kind.data, [day])
    extra = (f" Attention : la saison compte maintenant {next(iter(over.values()))} jours {label}, au-delà des "
             f"{cal.SEASON_QUOTAS[form.kind.data]} que prévoit l'offre.") if over else ""
    return done(f"Le {day:%d/%m/%Y} est un jour {label}.{extra}", _back(form.kind.data, day))


@bp.post("/jours-speciaux/retirer")
@permission_required(TEMPO_EDIT)
def unmark_special_day():
    form = SpecialDayRemoveForm()
    if not form.validate_on_submit() or form.kind.data not in cal.SPECIAL_KINDS:
        return refused("Formulaire invalide.", 400)
    day = parse_day(form.day.data.strip(), FIRST_DAY, LAST_DAY)
    if day is None:
        return refused("Jour invalide.", 400)
    if not cal.unmark_day(db(), form.kind.data, day, actor_id=current_user.id, ip=client_ip()):
        return refused(f"Le {day:%d/%m/%Y} n'est pas un jour {cal.KIND_LABELS[form.kind.data]}.")
    return done(f"Le {day:%d/%m/%Y} n'est plus un jour {cal.KIND_LABELS[form.kind.data]}.", _back(form.kind.data, day))


@bp.post("/jours-speciaux/periode-connue")
@permission_required(TEMPO_EDIT)
def declare_calendar_coverage():
    form = _with_kinds(CoverageForm())
    if not form.validate_on_submit():
        return _page("ejp", coverage_form=form, status=400)
    first = parse_day(form.known_from.data.strip(), FIRST_DAY, LAST_DAY)
    last = parse_day(form.known_through.data.strip(), FIRST_DAY, LAST_DAY)
    if first is None or last is None or last < first:
        form.known_through.errors.append("Deux jours AAAA-MM-JJ, le second après le premier.")
        return _page(form.kind.data, coverage_form=form, status=400)
    cal.declare_coverage(db(), form.kind.data, first, last, (form.source.data or "").strip(), actor_id=current_user.id,
                         ip=client_ip())
    return done(f"Calendrier {cal.KIND_LABELS[form.kind.data]} : liste complète du {first:%d/%m/%Y} au "
                f"{last:%d/%m/%Y}.", url_for("admin.special_days", calendrier=form.kind.data))
