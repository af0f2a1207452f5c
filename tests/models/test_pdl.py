"""The PDL rule, once: 14 ASCII digits."""

import pytest

from models.pdl import PDL_CHECK, is_pdl, normalise_pdl


@pytest.mark.parametrize("text", ["12345678901234", "00000000000000"])
def test_fourteen_ascii_digits_are_a_pdl(text):
    assert is_pdl(text) and normalise_pdl(text) == text


@pytest.mark.parametrize("text", [
    "", "1234567890123", "123456789012345", "1234567890123a", "12345678901234\n", " 12345678901234",
    "١٢٣٤٥٦٧٨٩٠١٢٣٤",  # Arabic-Indic digits: `\d` would take them, PostgreSQL's [0-9] would not
    None, 12345678901234,
])
def test_anything_else_is_not(text):
    assert not is_pdl(text)


def test_normalising_strips_whitespace_only():
    assert normalise_pdl(" 12345678901234\n") == "12345678901234"
    assert normalise_pdl("1234 5678901234") is None
    assert normalise_pdl(None) is None


def test_the_database_check_states_the_same_rule(session):
    from sqlalchemy import text

    for value, expected in (("12345678901234", True), ("1234567890123", False), ("12345678901234\n", False)):
        assert session.scalar(text(f"SELECT CAST(:v AS text) {PDL_CHECK}"), {"v": value}) is expected
        assert is_pdl(value) is expected
