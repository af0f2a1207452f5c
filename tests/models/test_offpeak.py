"""The off-peak hours parser, on the documented spellings and on generated ones."""

from datetime import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from models.offpeak import OffPeakParseError, OffPeakRange, is_offpeak, offpeak_minutes, parse_offpeak_hours


@pytest.mark.parametrize(
    "text, expected",
    [
        ("HC (22H00-6H00)", [(1320, 360)]),
        ("HC (23h00-7h30)", [(1380, 450)]),
        ("HC (1H30-8H00;12H30-14H00)", [(90, 480), (750, 840)]),
        ("HC (2h00-7h00 ; 14h00-17h00)", [(120, 420), (840, 1020)]),
        ("HC (22H30-6H30)", [(1350, 390)]),
    ],
)
def test_documented_spellings(text, expected):
    assert [(r.start, r.end) for r in parse_offpeak_hours(text)] == expected


@pytest.mark.parametrize("text", [None, "", "   "])
def test_single_rate_contract_has_no_offpeak(text):
    assert parse_offpeak_hours(text) == ()


@pytest.mark.parametrize("text", ["HC", "HC (25H00-6H00)", "HC (6H00-6H00)", "heures creuses"])
def test_unreadable_text_is_an_error(text):
    with pytest.raises(OffPeakParseError):
        parse_offpeak_hours(text)


def test_crossing_midnight():
    ranges = parse_offpeak_hours("HC (22H00-6H00)")
    assert is_offpeak(ranges, time(23, 0)) and is_offpeak(ranges, time(0, 0)) and is_offpeak(ranges, time(5, 59))
    assert not is_offpeak(ranges, time(6, 0)) and not is_offpeak(ranges, time(21, 59))
    assert offpeak_minutes(ranges, time(21, 30), 60) == 30
    assert offpeak_minutes(ranges, time(5, 30), 60) == 30
    assert sum(offpeak_minutes(ranges, time(h, m), 30) for h in range(24) for m in (0, 30)) == 8 * 60


minutes_of_day = st.integers(0, 47).map(lambda i: i * 30)


@st.composite
def contracts(draw):
    n = draw(st.integers(1, 3))
    ranges = [draw(st.tuples(minutes_of_day, minutes_of_day).filter(lambda p: p[0] != p[1])) for _ in range(n)]
    upper, sep = draw(st.booleans()), draw(st.sampled_from([";", " ; "]))
    text = "HC (" + sep.join(
        f"{h1}{'H' if upper else 'h'}{m1:02d}-{h2}{'H' if upper else 'h'}{m2:02d}"
        for (a, b) in ranges for h1, m1, h2, m2 in [(*divmod(a, 60), *divmod(b, 60))]
    ) + ")"
    return text, ranges


@given(contracts())
def test_round_trip_of_generated_contracts(case):
    text, ranges = case
    assert sorted((r.start, r.end) for r in parse_offpeak_hours(text)) == sorted(ranges)


@given(minutes_of_day, minutes_of_day, st.integers(0, 1439))
def test_contains_agrees_with_minutes(a, b, minute):
    assume(a != b)
    r = OffPeakRange(a, b)
    assert r.contains(minute) == (offpeak_minutes((r,), time(*divmod(minute, 60)), 1) == 1)
    assert sum(offpeak_minutes((r,), time(*divmod(m, 60)), 30) for m in range(0, 1440, 30)) == r.minutes
