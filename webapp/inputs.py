"""Hostile input stopped at the edge, in one place: ids in URLs, text in forms, redirect targets.

Views never see a value these checks refuse, so none of them needs its own try/except: an id
PostgreSQL cannot hold is a route that does not match (404), a control character in a form
field is a form error (400, in French), a `next` that could split a header is a bad `next`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from flask_wtf import FlaskForm
from werkzeug.routing import IntegerConverter
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import ValidationError

# C0 and C1 control characters and DEL. PostgreSQL refuses NUL in text; CR and LF split
# headers and log lines; browsers drop tabs and newlines from URLs (so "/\t/evil" is "//evil").
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # a text area keeps its line breaks
NOT_ALLOWED = "Ce champ contient des caractères non autorisés."

# No form of the app comes near this; a larger body is a 413 before anything reads it into memory
# (Werkzeug reads a urlencoded body whole, and gunicorn sets no limit).
MAX_BODY = 256 * 1024

# Primary keys in URLs are PostgreSQL INTEGER (`Mapped[int]`): a larger number names no row. A route on a
# BIGINT key would say `<int(max=...):id>`.
MAX_ID = 2**31 - 1


def printable(text: str, multiline: bool = False) -> bool:
    """No control character in `text` (line breaks allowed when `multiline`)."""
    return not (CONTROL_BUT_LINES if multiline else CONTROL).search(text)


def _printable_field(form, field) -> None:
    if isinstance(field.data, str) and not printable(field.data, multiline=isinstance(field, TextAreaField)):
        raise ValidationError(NOT_ALLOWED)


class Form(FlaskForm):
    """The base of every form: each text field refuses control characters.

    Passwords excepted: they are only ever hashed (never stored, shown nor logged), and refusing a
    character now would lock out an account whose password already holds one.
    """

    def validate(self, extra_validators=None):
        extra = {name: list(validators) for name, validators in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if isinstance(field, StringField) and not isinstance(field, PasswordField):
                extra.setdefault(name, []).append(_printable_field)
        return super().validate(extra)


class IdConverter(IntegerConverter):
    """`<int:…>` of every route: ASCII digits only (no '١٢٣'), at most MAX_ID; anything else matches no route."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class TypedText(StringField):
    """A text field read into another type by `parse` (None when empty); a ValueError from it is the
    field's error, in French. A refused entry is shown back only when short and printable."""

    def parse(self, text: str):
        raise NotImplementedError

    def show(self, value) -> str:
        return str(value)

    def process_formdata(self, valuelist):
        self.raw_data = valuelist
        text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if text:
            self.data = self.parse(text)

    def _value(self):
        if self.raw_data:
            raw = self.raw_data[0]
            return raw if len(raw) <= 20 and printable(raw) else ""
        return self.show(self.data) if self.data is not None else ""


class DecimalText(TypedText):
    """A decimal number a person types ("0,2016" or "0.2016"): ASCII digits, at most `places` decimals,
    within [low, high]. Anything else ("1e999", "NaN", "١٢", a 1 MB string) is a French form error,
    never a `Decimal` PostgreSQL cannot hold."""

    def __init__(self, label=None, validators=None, *, low: Decimal, high: Decimal, places: int, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.low, self.high, self.places = low, high, places
        self._pattern = re.compile(rf"[0-9]{{1,6}}(?:[.,][0-9]{{1,{places}}})?")

    def parse(self, text: str) -> Decimal:
        if len(text) > 20 or not self._pattern.fullmatch(text):
            raise ValueError(f"Un nombre, avec au plus {self.places} décimales (ex. 0,2016).")
        value = Decimal(text.replace(",", "."))
        if not self.low <= value <= self.high:
            raise ValueError(f"Entre {_fr(self.low)} et {_fr(self.high)}.")
        return value

    def show(self, value: Decimal) -> str:
        return _fr(value)


class DateText(TypedText):
    """A day typed as YYYY-MM-DD (what `<input type="date">` sends), ASCII digits only, within [first, last]."""

    def __init__(self, label=None, validators=None, *, first: date, last: date, **kwargs):
        kwargs.setdefault("render_kw", {"type": "date"})
        super().__init__(label, validators, **kwargs)
        self.first, self.last = first, last

    def parse(self, text: str) -> date:
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError("Une date au format AAAA-MM-JJ.") from None
        if not self.first <= day <= self.last:
            raise ValueError(f"Entre le {self.first:%d/%m/%Y} et le {self.last:%d/%m/%Y}.")
        return day

    def show(self, value: date) -> str:
        return value.isoformat()


def _fr(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")
