"""Contribuer: a signed-in user proposes a provider, an offer, new prices or a new name, follows each proposal,
answers a moderator's question, withdraws it.

Every view looks a contribution up by id AND the current user's id: another account's is a 404.
The proposal's checks (units, ranges, the price sheet's link) are models.contributions'.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from models import contributions as contrib
from models.contributions import Contribution, ContributionRefused, Proposal
from models.offer_edits import OfferEditRefused
from models.offers import FIRST_VALID_DAY, KVA_VALUES, LAST_VALID_DAY, OPTION_RULES, Offer, Provider
from webapp.db import db
from webapp.inputs import Form, parse_day
from webapp.price_table import columns, posted_values, read_price_table

bp = Blueprint("contribute", __name__, url_prefix="/contribuer")
REQUIRED = DataRequired(message="Ce champ est obligatoire.")
URL_LABEL = "Lien vers la grille tarifaire du fournisseur (obligatoire)"


class ProposalForm(Form):
    price_sheet_url = StringField(URL_LABEL, validators=[REQUIRED, Length(max=500)])
    comment = TextAreaField("Commentaire (facultatif)", validators=[Optional(), Length(max=2000)])


class ProviderProposalForm(ProposalForm):
    name = StringField("Nom du fournisseur", validators=[REQUIRED, Length(max=100)])
    website = StringField("Site du fournisseur (facultatif)", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Proposer ce fournisseur")


class OfferProposalForm(ProposalForm):
    provider = SelectField("Fournisseur", coerce=int, validate_choice=True)
    name = StringField("Nom de l'offre", validators=[REQUIRED, Length(max=100)])
    valid_from = StringField("Prix en vigueur à partir du", validators=[REQUIRED, Length(max=10)],
                             render_kw={"type": "date"})
    submit = SubmitField("Proposer cette offre")


class PriceProposalForm(ProposalForm):
    valid_from = StringField("Nouveaux prix en vigueur à partir du", validators=[REQUIRED, Length(max=10)],
                             render_kw={"type": "date"})
    submit = SubmitField("Proposer ces prix")


class RenameProposalForm(ProposalForm):
    name = StringField("Nouveau nom de l'offre", validators=[REQUIRED, Length(max=100)])
    submit = SubmitField("Proposer ce nom")


class WithdrawForm(Form):
    """A button: only the CSRF token."""


class ReplyForm(Form):
    body = TextAreaField("Votre réponse", validators=[REQUIRED, Length(max=2000)])
    submit = SubmitField("Répondre")


def _ip() -> str | None:
    return request.remote_addr or None


def _catalogue_offer(raw: str | None) -> Offer:
    if not raw or not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        abort(404)
    offer = db().scalar(select(Offer).where(Offer.id == int(raw), Offer.owner_id.is_(None))
                        .options(selectinload(Offer.provider)))
    if offer is None:
        abort(404)
    return offer


def _option_arg() -> str:
    option = request.args.get("option", "")
    if option not in OPTION_RULES:
        abort(404)
    return option


def _day(field) -> date | None:
    day = parse_day((field.data or "").strip(), FIRST_VALID_DAY, date(LAST_VALID_DAY.year - 1, 12, 31))
    if day is None:
        field.errors.append("Un jour au format AAAA-MM-JJ.")
    return day


def _submit(proposal_of):
    """Build the proposal (reading the price table may refuse) and store it; (contribution, error message)."""
    try:
        row = contrib.submit(db(), current_user.id, proposal_of(), ip=_ip())
    except (ContributionRefused, OfferEditRefused) as exc:
        db().rollback()
        return None, exc.message
    return row, ""


def _sent(row: Contribution):
    return _redirect_detail(row, "Merci ! Votre contribution attend la modération ; vous suivez son état ici.")


@bp.get("")
@login_required
def index():
    rows = list(db().scalars(select(Contribution).where(Contribution.user_id == current_user.id)
                             .order_by(Contribution.id.desc())))
    offers = list(db().scalars(select(Offer).where(Offer.owner_id.is_(None)).options(selectinload(Offer.provider))
                               .order_by(Offer.name)))
    return render_template("contributions/index.html", rows=rows, offers=offers, rules=OPTION_RULES)


@bp.route("/fournisseur", methods=["GET", "POST"])
@login_required
def propose_provider():
    form = ProviderProposalForm()
    error = ""
    if form.validate_on_submit():
        row, error = _submit(lambda: Proposal("new_provider", form.price_sheet_url.data, form.comment.data or "",
                                              name=form.name.data, website=form.website.data or ""))
        if row is not None:
            return _sent(row)
    status = 400 if request.method == "POST" else 200
    return render_template("contributions/propose.html", form=form, error=error, title="Proposer un fournisseur",
                           action=url_for("contribute.propose_provider"), table=None), status


@bp.route("/offre", methods=["GET", "POST"])
@login_required
def propose_offer():
    option = _option_arg()
    form = OfferProposalForm()
    form.provider.choices = [SelectChoice(p.id, p.name) for p in db().scalars(select(Provider).order_by(Provider.name))]
    error = ""
    if form.validate_on_submit():
        day = _day(form.valid_from)
        if day is not None:
            row, error = _submit(lambda: Proposal(
                "new_offer", form.price_sheet_url.data, form.comment.data or "", name=form.name.data,
                provider_id=form.provider.data, option=option, valid_from=day, prices=read_price_table(option)))
            if row is not None:
                return _sent(row)
    status = 400 if request.method == "POST" else 200
    return render_template("contributions/propose.html", form=form, error=error,
                           title=f"Proposer une offre ({OPTION_RULES[option].label})",
                           action=url_for("contribute.propose_offer", option=option),
                           table=columns(option), values=posted_values() if request.method == "POST" else {},
                           kvas=KVA_VALUES), status


@bp.route("/prix", methods=["GET", "POST"])
@login_required
def propose_prices():
    offer = _catalogue_offer(request.args.get("offre"))
    form = PriceProposalForm()
    error = ""
    if form.validate_on_submit():
        day = _day(form.valid_from)
        if day is not None:
            row, error = _submit(lambda: Proposal("price_change", form.price_sheet_url.data, form.comment.data or "",
                                                  offer_id=offer.id, valid_from=day,
                                                  prices=read_price_table(offer.option)))
            if row is not None:
                return _sent(row)
    status = 400 if request.method == "POST" else 200
    return render_template("contributions/propose.html", form=form, error=error,
                           title=f"Nouveaux prix : {offer.supplier} – {offer.name}",
                           action=url_for("contribute.propose_prices", offre=offer.id), table=columns(offer.option),
                           values=posted_values() if request.method == "POST" else {}, kvas=KVA_VALUES), status


@bp.route("/nom", methods=["GET", "POST"])
@login_required
def propose_rename():
    offer = _catalogue_offer(request.args.get("offre"))
    form = RenameProposalForm()
    error = ""
    if form.validate_on_submit():
        row, error = _submit(lambda: Proposal("rename_offer", form.price_sheet_url.data, form.comment.data or "",
                                              offer_id=offer.id, name=form.name.data))
        if row is not None:
            return _sent(row)
    status = 400 if request.method == "POST" else 200
    return render_template("contributions/propose.html", form=form, error=error,
                           title=f"Nouveau nom pour {offer.supplier} – {offer.name}",
                           action=url_for("contribute.propose_rename", offre=offer.id), table=None), status


def _own(contribution_id: int) -> Contribution:
    row = contrib.of_author(db(), current_user.id, contribution_id)
    if row is None:
        abort(404)
    return row


def _detail(row: Contribution, form=None, error: str = "", status: int = 200):
    return render_template("contributions/detail.html", row=row, form=form or ReplyForm(formdata=None), error=error,
                           diff=contrib.diff(db(), row)), status


@bp.get("/<int:contribution_id>")
@login_required
def detail(contribution_id: int):
    return _detail(_own(contribution_id))


@bp.post("/<int:contribution_id>/repondre")
@login_required
def reply(contribution_id: int):
    row = _own(contribution_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _detail(row, form, status=400)
    try:
        contrib.answer(db(), current_user.id, row.id, form.body.data, ip=_ip())
    except ContributionRefused as exc:
        db().rollback()
        return _detail(row, form, exc.message, 409)
    return _redirect_detail(row, "Réponse envoyée : la contribution retourne à la modération.")


@bp.post("/<int:contribution_id>/retirer")
@login_required
def withdraw(contribution_id: int):
    row = _own(contribution_id)
    if not WithdrawForm().validate_on_submit():
        return _detail(row, error="Formulaire invalide.", status=400)
    try:
        contrib.withdraw(db(), current_user.id, row.id, ip=_ip())
    except ContributionRefused as exc:
        db().rollback()
        return _detail(row, error=exc.message, status=409)
    return _redirect_detail(row, "Contribution retirée.")


def _redirect_detail(row: Contribution, message: str):
    flash(message, "success")
    return redirect(url_for("contribute.detail", contribution_id=row.id), code=303)
