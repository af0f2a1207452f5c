"""The admin area's forms: every text field bounded, refusing control characters (webapp.inputs.Form)."""

from __future__ import annotations

from wtforms import SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from models.grid.tempo import TEMPO_COLOURS
from models.permissions import PERMISSIONS
from webapp.inputs import Form

REQUIRED = DataRequired(message="Ce champ est obligatoire.")
COLOURS_FR = {"BLUE": "Bleu", "WHITE": "Blanc", "RED": "Rouge"}


class ActionForm(Form):
    """A button: only the CSRF token."""


class ConfirmDeleteForm(Form):
    email = StringField("Adresse e-mail du compte, pour confirmer", validators=[REQUIRED, Length(max=254)])
    submit = SubmitField("Supprimer définitivement ce compte")


class RoleChoiceForm(Form):
    role = SelectField("Rôle", coerce=int, validate_choice=True)
    submit = SubmitField("Changer le rôle")


class PermissionsField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _permission_choices() -> list[SelectChoice]:
    return [SelectChoice(code, f"{code} : {text}") for code, text in PERMISSIONS.items()]


class RoleForm(Form):
    name = StringField("Nom (identifiant : minuscules, chiffres, - ou _)", validators=[REQUIRED, Length(min=3, max=64)])
    description = StringField("Description", validators=[Optional(), Length(max=255)])
    permissions = PermissionsField("Permissions", choices=_permission_choices(), validate_choice=True)
    submit = SubmitField("Créer le rôle")


class RoleEditForm(Form):
    description = StringField("Description", validators=[Optional(), Length(max=255)])
    permissions = PermissionsField("Permissions", choices=_permission_choices(), validate_choice=True)
    submit = SubmitField("Enregistrer")


class DetachForm(Form):
    pdl = StringField("PDL du compteur, pour confirmer", validators=[REQUIRED, Length(max=14)])
    reason = TextAreaField("Motif (envoyé au titulaire)", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Retirer ce compteur du compte")


class TempoCorrectionForm(Form):
    day = StringField("Jour", validators=[REQUIRED, Length(max=10)], render_kw={"type": "date"})
    colour = SelectField("Couleur", choices=[SelectChoice(c, COLOURS_FR[c]) for c in TEMPO_COLOURS], validate_choice=True)
    reason = StringField("Motif", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Corriger")


class TempoDayForm(Form):
    day = StringField("Jour", validators=[REQUIRED, Length(max=10)])


# -- offers, calendars, contributions --------------------------------------------------------------


class ProviderForm(Form):
    name = StringField("Nom du fournisseur", validators=[REQUIRED, Length(max=100)])
    website = StringField("Site (https://…)", validators=[Optional(), Length(max=255)])
    submit = SubmitField("Ajouter le fournisseur")


class OfferForm(Form):
    provider = SelectField("Fournisseur", coerce=int, validate_choice=True)
    name = StringField("Nom de l'offre", validators=[REQUIRED, Length(max=100)])
    option = SelectField("Option", validate_choice=True)
    submit = SubmitField("Créer l'offre")


class RenameForm(Form):
    name = StringField("Nouveau nom", validators=[REQUIRED, Length(max=100)])
    submit = SubmitField("Renommer (les prix ne changent pas)")


class PricesForm(Form):
    valid_from = StringField("En vigueur à partir du", validators=[REQUIRED, Length(max=10)],
                             render_kw={"type": "date"})
    status = SelectField("Confiance", validate_choice=True)
    source = StringField("Source (lien de la grille tarifaire)", validators=[REQUIRED, Length(max=500)])
    notes = StringField("Notes", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Enregistrer ces prix")


class SpecialDayForm(Form):
    kind = SelectField("Calendrier", validate_choice=True)
    day = StringField("Jour", validators=[REQUIRED, Length(max=10)], render_kw={"type": "date"})
    source = StringField("Source (annonce du fournisseur)", validators=[Optional(), Length(max=300)])
    submit = SubmitField("Ajouter ce jour")


class SpecialDayRemoveForm(Form):
    kind = StringField("Calendrier", validators=[REQUIRED, Length(max=16)])
    day = StringField("Jour", validators=[REQUIRED, Length(max=10)])


class CoverageForm(Form):
    kind = SelectField("Calendrier", validate_choice=True)
    known_from = StringField("Liste complète du", validators=[REQUIRED, Length(max=10)], render_kw={"type": "date"})
    known_through = StringField("au (inclus)", validators=[REQUIRED, Length(max=10)], render_kw={"type": "date"})
    source = StringField("Source", validators=[Optional(), Length(max=300)])
    submit = SubmitField("Déclarer cette période connue")


class MessageForm(Form):
    body = TextAreaField("Message", validators=[REQUIRED, Length(max=2000)])
    submit = SubmitField("Envoyer")


class RejectForm(Form):
    reason = TextAreaField("Motif", validators=[REQUIRED, Length(max=2000)])
    submit = SubmitField("Refuser la contribution")
