"""Offres: providers, offers and their price periods with history, source and confidence; new prices close the
previous period (models.offer_edits), never overwrite it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from flask import abort, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from models import offer_edits
from models.offer_edits import OfferEditRefused
from models.offers import (
    FIRST_VALID_DAY, KVA_VALUES, LAST_VALID_DAY, OPTION_RULES, STATUS_LABELS, Offer, OfferPrice, Provider,
    status_counts,
)
from models.permissions import OFFERS_EDIT
from webapp.admin import bp, client_ip, permission_required
from webapp.admin.common import done
from webapp.admin.forms import OfferForm, PricesForm, ProviderForm, RenameForm
from webapp.db import db
from webapp.inputs import parse_day
from webapp.price_table import columns, posted_values, read_price_table


def _offer_form(formdata=...) -> OfferForm:
    form = OfferForm() if formdata is ... else OfferForm(formdata=None)
    form.provider.choices = [SelectChoice(p.id, p.name) for p in db().scalars(select(Provider).order_by(Provider.name))]
    form.option.choices = [SelectChoice(code, rule.label) for code, rule in OPTION_RULES.items()]
    return form


def _prices_form(formdata=...) -> PricesForm:
    form = PricesForm() if formdata is ... else PricesForm(formdata=None, data={"status": "single_source"})
    form.status.choices = [SelectChoice(s, STATUS_LABELS[s]) for s in offer_edits.CATALOGUE_STATUSES]
    return form


def _offers_page(provider_form=None, offer_form=None, status: int = 200):
    s = db()
    offers = list(s.scalars(select(Offer).where(Offer.owner_id.is_(None)).options(selectinload(Offer.provider))
                            .order_by(Offer.name)))
    by_provider = defaultdict(list)
    for offer in offers:
        by_provider[offer.provider_id].append(offer)
    latest = dict(s.execute(select(OfferPrice.offer_id, func.max(OfferPrice.valid_from))
                            .group_by(OfferPrice.offer_id)).all())
    kvas = dict(s.execute(select(OfferPrice.offer_id, func.count(func.distinct(OfferPrice.kva)))
                          .group_by(OfferPrice.offer_id)).all())
    providers = list(s.scalars(select(Provider).order_by(Provider.name)))
    return render_template("admin/offers.html", providers=providers, by_provider=by_provider, latest=latest, kvas=kvas,
                           rules=OPTION_RULES, counts=status_counts(s), labels=STATUS_LABELS,
                           provider_form=provider_form or ProviderForm(formdata=None),
                           offer_form=offer_form or _offer_form(None)), status


@bp.get("/offres")
@permission_required(OFFERS_EDIT)
def offers():
    return _offers_page()


@bp.post("/offres/fournisseurs")
@permission_required(OFFERS_EDIT)
def create_provider():
    form = ProviderForm()
    if not form.validate_on_submit():
        return _offers_page(provider_form=form, status=400)
    try:
        provider = offer_edits.create_provider(db(), form.name.data, form.website.data or "", actor_id=current_user.id,
                                               ip=client_ip())
    except OfferEditRefused as exc:
        db().rollback()
        form.name.errors.append(exc.message)
        return _offers_page(provider_form=form, status=409)
    return done(f"Fournisseur « {provider.name} » ajouté.", url_for("admin.offers"))


@bp.post("/offres/nouvelle")
@permission_required(OFFERS_EDIT)
def create_offer():
    form = _offer_form()
    if not form.validate_on_submit():
        return _offers_page(offer_form=form, status=400)
    try:
        offer = offer_edits.create_offer(db(), form.provider.data, form.name.data, form.option.data,
                                         actor_id=current_user.id, ip=client_ip())
    except OfferEditRefused as exc:
        db().rollback()
        form.name.errors.append(exc.message)
        return _offers_page(offer_form=form, status=409)
    return done(f"Offre « {offer.name} » créée : ajoutez ses prix.", url_for("admin.offer", offer_id=offer.id))


def _offer(offer_id: int) -> Offer:
    try:
        return offer_edits.catalogue_offer(db(), offer_id)
    except OfferEditRefused:
        abort(404)


def _offer_page(offer: Offer, rename_form=None, prices_form=None, error: str = "", values=None, status: int = 200):
    periods = list(db().scalars(select(OfferPrice).where(OfferPrice.offer_id == offer.id)
                                .options(selectinload(OfferPrice.energy_rows))
                                .order_by(OfferPrice.kva, OfferPrice.valid_from.desc())))
    history = defaultdict(list)
    for period in periods:
        history[period.kva].append(period)
    return render_template("admin/offer.html", offer=offer, history=history, columns=columns(offer.option),
                           labels=STATUS_LABELS, kvas=KVA_VALUES, error=error, values=values or {},
                           rename_form=rename_form or RenameForm(formdata=None, data={"name": offer.name}),
                           prices_form=prices_form or _prices_form(None)), status


@bp.get("/offres/<int:offer_id>")
@permission_required(OFFERS_EDIT)
def offer(offer_id: int):
    return _offer_page(_offer(offer_id))


@bp.post("/offres/<int:offer_id>/nom")
@permission_required(OFFERS_EDIT)
def rename_offer(offer_id: int):
    target = _offer(offer_id)
    form = RenameForm()
    if not form.validate_on_submit():
        return _offer_page(target, rename_form=form, status=400)
    try:
        offer_edits.rename_offer(db(), target.id, form.name.data, actor_id=current_user.id, ip=client_ip())
    except OfferEditRefused as exc:
        db().rollback()
        form.name.errors.append(exc.message)
        return _offer_page(target, rename_form=form, status=409)
    return done(f"Offre renommée « {target.name} » ; ses prix n'ont pas changé.",
                url_for("admin.offer", offer_id=target.id))


@bp.post("/offres/<int:offer_id>/prix")
@permission_required(OFFERS_EDIT)
def new_prices(offer_id: int):
    target = _offer(offer_id)
    form = _prices_form()
    if not form.validate_on_submit():
        return _offer_page(target, prices_form=form, values=posted_values(), status=400)
    day = parse_day(form.valid_from.data.strip(), FIRST_VALID_DAY, date(LAST_VALID_DAY.year - 1, 12, 31))
    if day is None:
        form.valid_from.errors.append("Un jour au format AAAA-MM-JJ.")
        return _offer_page(target, prices_form=form, values=posted_values(), status=400)
    try:
        entries = read_price_table(target.option)
        added = offer_edits.add_prices(db(), target.id, day, entries, status=form.status.data,
                                       sources=[form.source.data], notes=(form.notes.data or "").strip(),
                                       actor_id=current_user.id, ip=client_ip())
    except OfferEditRefused as exc:
        db().rollback()
        return _offer_page(target, prices_form=form, error=exc.message, values=posted_values(), status=400)
    kvas = ", ".join(f"{p.kva}" for p in added)
    return done(f"Nouveaux prix au {day:%d/%m/%Y} pour {kvas} kVA ; les périodes précédentes sont closes la veille.",
                url_for("admin.offer", offer_id=target.id))
