"""Account forms (CSRF-protected by Flask-WTF)."""

from wtforms import BooleanField, EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp

from webapp.inputs import Form

PASSWORD_RULE = Length(min=10, max=128, message="Le mot de passe doit contenir au moins 10 caractères.")
REQUIRED = DataRequired(message="Ce champ est obligatoire.")
EMAIL = Email(message="Adresse e-mail invalide.", check_deliverability=False)
# Signing in (or asking for a reset link) only looks an address up: any address an account can have is
# accepted, those `releve create-admin` makes on an intranet domain (admin@releve.local, `make run`'s
# first admin) included, which the sign-up check refuses as not deliverable on the Internet.
ACCOUNT_EMAIL = [Regexp(r"^[^@\s]+@[^@\s]+$", message="Adresse e-mail invalide."), Length(max=254)]
AC_EMAIL, AC_NEW, AC_CURRENT = ({"autocomplete": v} for v in ("email", "new-password", "current-password"))


class SignupForm(Form):
    email = EmailField("Adresse e-mail", validators=[REQUIRED, EMAIL, Length(max=254)], render_kw=AC_EMAIL)
    password = PasswordField("Mot de passe", validators=[REQUIRED, PASSWORD_RULE], render_kw=AC_NEW)
    confirm = PasswordField("Confirmer le mot de passe",
                            validators=[REQUIRED, EqualTo("password", message="Les mots de passe ne correspondent pas.")], render_kw=AC_NEW)
    submit = SubmitField("Créer mon compte")


class LoginForm(Form):
    email = EmailField("Adresse e-mail", validators=[REQUIRED, *ACCOUNT_EMAIL], render_kw=AC_EMAIL)
    password = PasswordField("Mot de passe", validators=[REQUIRED], render_kw=AC_CURRENT)
    remember = BooleanField("Rester connecté")
    submit = SubmitField("Se connecter")


class ResetRequestForm(Form):
    email = EmailField("Adresse e-mail", validators=[REQUIRED, *ACCOUNT_EMAIL], render_kw=AC_EMAIL)
    submit = SubmitField("Recevoir un lien")


class ResetForm(Form):
    password = PasswordField("Nouveau mot de passe", validators=[REQUIRED, PASSWORD_RULE], render_kw=AC_NEW)
    confirm = PasswordField("Confirmer", validators=[REQUIRED, EqualTo("password", message="Les mots de passe ne correspondent pas.")], render_kw=AC_NEW)
    submit = SubmitField("Changer le mot de passe")
