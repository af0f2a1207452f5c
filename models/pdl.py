"""PDL / PRM numbers (a meter's usage point id): exactly 14 ASCII digits, kept as text.

The one definition of the rule: the database CHECK, the web app's checks of URLs and forms,
the consent callback and the Enedis client all use it. Leading zeros happen, so a PDL is
never an integer; `\\d` would also accept other scripts' digits ('١٢٣…'), hence [0-9].
"""

from __future__ import annotations

import re

PDL_LENGTH = 14
_PDL = re.compile(r"[0-9]{14}")

# The same rule as a PostgreSQL CHECK expression (`CheckConstraint(f"pdl {PDL_CHECK}")`).
PDL_CHECK = "~ '^[0-9]{14}$'"


def is_pdl(text: object) -> bool:
    """Whether `text` is a PDL as it is stored: a str of exactly 14 ASCII digits, nothing around them."""
    return isinstance(text, str) and _PDL.fullmatch(text) is not None


def normalise_pdl(text: str | None) -> str | None:
    """`text` without surrounding whitespace when that is a PDL, else None."""
    if text is None:
        return None
    text = text.strip()
    return text if is_pdl(text) else None
