"""Account settings: password, API credentials, the household's own offers, account deletion.

Every action looks rows up by id AND the current user's id: another account's row is a 404,
exactly like a row that does not exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask import session as browser_session
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length, Optional, ValidationError

try:  # WTForms ≥ 3.3 wants choices as SelectChoice (tuples are deprecated there)
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    def SelectChoice(value, label):  # noqa: N802 - stands in for the class
        return value, label

from models.accounts import LastAdmin
from models.api_clients import ApiClient
from models.household_offers import (
    HOUSEHOLD_OPTIONS, MAX_OFFERS_PER_ACCOUNT, HouseholdOfferInput, OfferRefused, create_household_offer,
    delete_household_offer, household_offers,
)
from models.offers import BUCKET_LABELS, KVA_VALUES, MAX_EUR_KWH, MAX_FIXED_EUR_MONTH, OPTION_RULES, choose_offer
from models.series import CONSUMER_KINDS
from models.offpeak import parse_offpeak_hours
from models.users import User
from pipeline import accounts
from pipeline.costs import offer_choice
from webapp.auth.forms import AC_CURRENT, AC_NEW, PASSWORD_RULE, REQUIRED
from webapp.data import cache, own_point, own_points
from webapp.db import audit, db
from webapp.extensions import settings as releve_settings
from webapp.inputs import DateText, DecimalText, Form
from webapp.security import Throttle
from webapp.sessions import end_all_sessions, sign_in

bp = Blueprint("account", __name__)


class PasswordForm(Form):
    current = PasswordField("Mot de passe actuel", validators=[REQUIRED], render_kw=AC_CURRENT)
    password = PasswordField("Nouveau mot de passe", validators=[REQUIRED, PASSWORD_RULE], render_kw=AC_NEW)
    confirm = PasswordField("Confirmer", validators=[REQUIRED, EqualTo("password", message="Les mots de passe ne correspondent pas.")],
                            render_kw=AC_NEW)
    submit = SubmitField("Changer le mot de passe")


class ApiClientForm(Form):
    name = StringField("Nom (facultatif, ex. « Home Assistant »)", validators=[Optional(), Length(max=100)])
    submit = SubmitField("Créer des identifiants")


class DeleteForm(Form):
    confirm_password = PasswordField("Mot de passe", validators=[REQUIRED], render_kw=AC_CURRENT)
    submit = SubmitField("Supprimer définitivement mon compte")


OFFER_FIRST_DAY = date(2015, 1, 1)  # older prices price no reading Enedis still serves
OFFER_LAST_DAY = date(2099, 12, 31)
WEEKEND_OPTIONS = ("BASE_WEEKEND", "HC_WEEKEND", "HC_NUIT_WEEKEND")
AT_MOST_100 = "100 caractères au plus."


class ChoiceField(SelectField):
    """A select whose refusal of a value it does not offer is said in French."""

    def pre_validate(self, form):
        if self.data not in {str(choice[0]) for choice in self.iter_choices()}:
            raise ValidationError("Choisissez une valeur de la liste.")


class HouseholdOfferForm(Form):
    """The fields every household offer has; `offer_form(option)` adds that option's prices per kWh."""

    name = StringField("Nom de l'offre", validators=[REQUIRED, Length(max=100, message=AT_MOST_100)])
    supplier = StringField("Fournisseur (facultatif)", validators=[Optional(), Length(max=100, message=AT_MOST_100)])
    kva = ChoiceField("Puissance souscrite", choices=[SelectChoice(str(k), f"{k} kVA") for k in KVA_VALUES],
                      validators=[InputRequired(message="Choisissez une puissance.")])
    valid_from = DateText("Prix en vigueur depuis le", validators=[InputRequired(message="Indiquez une date.")],
                          first=OFFER_FIRST_DAY, last=OFFER_LAST_DAY)
    valid_until = DateText("Jusqu'au (inclus, facultatif)", validators=[Optional()],
                           first=OFFER_FIRST_DAY, last=OFFER_LAST_DAY)
    fixed = DecimalText("Abonnement (€ TTC par mois)", validators=[InputRequired(message="Indiquez l'abonnement.")],
                        low=Decimal(0), high=MAX_FIXED_EUR_MONTH - Decimal("0.0001"), places=4)


def offer_form(option: str, formdata=None) -> HouseholdOfferForm:
    """The form of one option: its prices per kWh, and the public-holiday question for weekend offers."""
    fields = {f"price_{bucket}": DecimalText(f"{BUCKET_LABELS[bucket]} (€ TTC par kWh)",
                                             validators=[InputRequired(message="Indiquez ce prix.")],
                                             low=Decimal("0.000001"), high=MAX_EUR_KWH - Decimal("0.000001"), places=6)
              for bucket in OPTION_RULES[option].buckets}
    if option in WEEKEND_OPTIONS:
        fields["holidays"] = BooleanField("Les jours fériés sont au prix du week-end")
    fields["submit"] = SubmitField("Enregistrer l'offre")
    form_class = type(f"OfferForm_{option}", (HouseholdOfferForm,), fields)
    return form_class(formdata=formdata) if formdata is not None else form_class()


def option_asked() -> str | None:
    """The `type` of the query string when it is an option a household can enter."""
    option = request.args.get("type", "")
    return option if option in HOUSEHOLD_OPTIONS else None


def me() -> User:
    return current_user._get_current_object()


def own_clients() -> list[ApiClient]:
    return list(db().scalars(select(ApiClient).where(ApiClient.user_id == current_user.id, ApiClient.revoked_at.is_(None))
                             .order_by(ApiClient.created_at, ApiClient.id)))


def own_client(pk: int) -> ApiClient:
    client = db().scalar(select(ApiClient).where(ApiClient.id == pk, ApiClient.user_id == current_user.id,
                                                 ApiClient.revoked_at.is_(None)))
    if client is None:
        abort(404)
    return client


def page(password_form=None, api_form=None, delete_form=None, new_secret=None, status=200):
    """The settings page; a freshly issued secret is shown once and never stored nor cached."""
    response = make_response(render_template(
        "account/settings.html", password_form=password_form or PasswordForm(),
        api_form=api_form or ApiClientForm(), delete_form=delete_form or DeleteForm(),
        clients=own_clients(), new_secret=new_secret), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def checked(password: str) -> bool | None:
    """Whether `password` is the current user's; None when too many failures (throttled)."""
    throttle = Throttle(current_user.email, request.remote_addr or "unknown")
    if throttle.retry_after():
        return None
    if me().check_password(password):
        throttle.succeeded()
        return True
    throttle.failed()
    return False


@bp.route("/parametres", methods=["GET", "POST"])
@login_required
def settings():
    form = PasswordForm()
    if request.method == "POST" and form.validate_on_submit():
        ok = checked(form.current.data)
        if ok is None:
            flash("Trop de tentatives. Réessayez plus tard.", "error")
            return page(password_form=form, status=429)
        if not ok:
            form.current.errors.append("Mot de passe incorrect.")
            return page(password_form=form, status=400)
        user = me()
        user.set_password(form.password.data)
        audit("account.password_changed")
        end_all_sessions(user.id)
        # Every other session is signed out (their rows are gone, and the fingerprint changed);
        # this one continues in a new session.
        sign_in(user)
        flash("Mot de passe changé. Vos autres sessions ont été déconnectées.", "success")
        return redirect(url_for("account.settings"))
    return page(password_form=form, status=400 if request.method == "POST" else 200)


@bp.post("/parametres/deconnexion-partout")
@login_required
def sign_out_everywhere():
    form = Form()
    if not form.validate_on_submit():
        return page(status=400)
    uid = current_user.id
    ended = end_all_sessions(uid)
    audit("account.signed_out_everywhere", f"user:{uid}", sessions=ended)
    browser_session.clear()
    logout_user()  # after the clear: this response also deletes the remember cookie
    flash("Vous êtes déconnecté de tous vos appareils, y compris celui-ci.", "success")
    return redirect(url_for("auth.login"))


def _issue(name: str) -> tuple[ApiClient, str]:
    client, secret = ApiClient.issue(current_user.id, name=name)
    db().add(client)
    return client, secret


@bp.post("/parametres/api")
@login_required
def create_client():
    form = ApiClientForm()
    if not form.validate_on_submit():
        return page(api_form=form, status=400)
    client, secret = _issue((form.name.data or "").strip())
    db().flush()
    audit("api_client.created", client.client_id)
    return page(new_secret=(client, secret))


@bp.post("/parametres/api/<int:pk>/regenerer")
@login_required
def regenerate_client(pk: int):
    old = own_client(pk)
    old.revoked_at = datetime.now(UTC)
    client, secret = _issue(old.name)
    audit("api_client.regenerated", client.client_id, replaces=old.client_id)
    return page(new_secret=(client, secret))


@bp.post("/parametres/api/<int:pk>/revoquer")
@login_required
def revoke_client(pk: int):
    client = own_client(pk)
    client.revoked_at = datetime.now(UTC)
    audit("api_client.revoked", client.client_id)
    flash("Identifiants révoqués : ils ne donnent plus accès à vos données.", "success")
    return redirect(url_for("account.settings"))


def offers_page(form=None, option=None, status=200):
    response = make_response(render_template(
        "account/offers.html", offers=household_offers(db(), current_user.id), form=form, option=option,
        options=[(o, OPTION_RULES[o].label) for o in HOUSEHOLD_OPTIONS], rules=OPTION_RULES,
        bucket_labels=BUCKET_LABELS, limit=MAX_OFFERS_PER_ACCOUNT, one_day=timedelta(days=1),
        fixed_hours=" et ".join(r.label() for r in parse_offpeak_hours(OPTION_RULES[option].offpeak_hours))
        if option else ""), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/parametres/offres")
@login_required
def offers():
    """The household's own offers: listed, deletable, and a type to choose before entering a new one."""
    return offers_page()


@bp.route("/parametres/offres/nouvelle", methods=["GET", "POST"])
@login_required
def new_offer():
    option = option_asked()
    if option is None:  # no type, or one a household cannot enter: choose one first
        if request.method == "POST" or "type" in request.args:
            flash("Choisissez un type d'offre.", "error")
            return offers_page(status=400)
        return redirect(url_for("account.offers"))
    form = offer_form(option)
    if request.method == "GET":
        return offers_page(form=form, option=option)
    if not form.validate_on_submit():
        return offers_page(form=form, option=option, status=400)
    until = form.valid_until.data
    entry = HouseholdOfferInput(
        name=form.name.data.strip(), supplier_name=(form.supplier.data or "").strip(), option=option,
        kva=int(form.kva.data), valid_from=form.valid_from.data, valid_to=until + timedelta(days=1) if until else None,
        fixed_eur_month=form.fixed.data,
        energy={bucket: form[f"price_{bucket}"].data for bucket in OPTION_RULES[option].buckets},
        holidays_as_weekend=bool(form.holidays.data) if "holidays" in form else False)
    try:
        offer = create_household_offer(db(), current_user.id, entry)
    except OfferRefused as exc:
        flash(str(exc), "error")
        return offers_page(form=form, option=option, status=400)
    audit("household_offer.created", f"offer:{offer.id}", option=option)
    flash("Offre enregistrée : elle n'est visible que de votre compte.", "success")
    return redirect(url_for("account.offers"))


@bp.post("/parametres/offres/<int:pk>/supprimer")
@login_required
def delete_offer(pk: int):
    if not Form().validate_on_submit():
        return offers_page(status=400)
    if not delete_household_offer(db(), current_user.id, pk):  # another account's offer: as if it did not exist
        abort(404)
    audit("household_offer.deleted", f"offer:{pk}")
    flash("Offre supprimée.", "success")
    return redirect(url_for("account.offers"))


# -- the offer of each meter ----------------------------------------------------------------------------------


class MeterOfferForm(Form):
    """Which offer a meter has: one of those at its subscribed power (the catalogue's and the household's own)."""

    pdl = HiddenField()
    offer = ChoiceField("Mon offre", choices=[], validators=[Optional()])
    submit = SubmitField("Enregistrer cette offre")


def meter_offer_form(point, choice, formdata=None) -> MeterOfferForm:
    form = MeterOfferForm(formdata=formdata) if formdata is not None else MeterOfferForm()
    catalogue = [o for o in choice.available if not o.is_household]
    own = [o for o in choice.available if o.is_household]
    form.offer.choices = [SelectChoice("", "— je ne sais pas —")] + [
        SelectChoice(str(o.id), f"{o.supplier} – {o.name}" if o.supplier and o.supplier not in o.name else o.name)
        for o in catalogue] + [SelectChoice(str(o.id), f"{o.name} (mon offre{', ' + o.supplier_name if o.supplier_name else ''})")
                               for o in own]
    if formdata is None:
        form.pdl.data = point.pdl
        form.offer.data = str(choice.current.id) if choice.current else ""
    return form


def meter_offer_page(point, choice, form=None, status=200):
    from webapp.costs.data import ask_contract

    if point is not None and choice.kva is None:
        ask_contract(point)
    consumers = [p for p in own_points() if p.kind in CONSUMER_KINDS]
    response = make_response(render_template(
        "account/meter_offer.html", point=point, points=consumers, choice=choice,
        form=form if form is not None else (meter_offer_form(point, choice) if choice and choice.kva else None),
        rules=OPTION_RULES), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/parametres/offre")
@login_required
def meter_offer():
    """The offer of one meter: the contract's suggestion preselected, to confirm or change."""
    pdl = request.args.get("pdl")
    if pdl:
        point = own_point(pdl)
        if point.kind not in CONSUMER_KINDS:
            abort(404)
    else:
        point = next((p for p in own_points() if p.kind in CONSUMER_KINDS), None)
    choice = offer_choice(db(), cache(), point) if point is not None else None
    return meter_offer_page(point, choice)


@bp.post("/parametres/offre")
@login_required
def save_meter_offer():
    form = MeterOfferForm()
    if not form.validate_on_submit() and form.pdl.errors:  # control characters in the PDL: a bad request
        abort(400)
    point = own_point(form.pdl.data or "")
    if point.kind not in CONSUMER_KINDS:
        abort(404)
    choice = offer_choice(db(), cache(), point)
    if choice.kva is None:
        flash("La puissance souscrite de ce compteur n'est pas encore connue : réessayez dans quelques minutes.",
              "error")
        return meter_offer_page(point, choice, status=409)
    form = meter_offer_form(point, choice, formdata=request.form)
    if not form.validate():
        return meter_offer_page(point, choice, form=form, status=400)
    offer_id = int(form.offer.data) if form.offer.data else None
    if not choose_offer(db(), current_user.id, point.id, offer_id):
        abort(404)
    audit("meter.offer_chosen", f"point:{point.id}", offer=offer_id)
    flash("Offre enregistrée pour ce compteur." if offer_id else "Offre effacée : Relevé reprend celle que suggère "
          "votre contrat.", "success")
    return redirect(url_for("costs.costs", pdl=point.pdl))


@bp.post("/parametres/supprimer")
@login_required
def delete_account():
    form = DeleteForm()
    if not form.validate_on_submit():
        return page(delete_form=form, status=400)
    ok = checked(form.confirm_password.data)
    if not ok:
        form.confirm_password.errors.append("Trop de tentatives. Réessayez plus tard." if ok is None else "Mot de passe incorrect.")
        return page(delete_form=form, status=429 if ok is None else 400)
    try:
        accounts.delete_account(db(), releve_settings(), current_user.id, ip=request.remote_addr or None)
    except LastAdmin as exc:
        db().rollback()
        form.confirm_password.errors.append(exc.message)
        return page(delete_form=form, status=409)
    logout_user()
    flash("Votre compte et toutes vos données ont été supprimés.", "success")
    return redirect(url_for("main.index"))
