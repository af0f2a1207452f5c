"""`releve offers …` and `releve calendar …`, run as real processes on the test database."""

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete

from models.day_calendars import CalendarCoverage, SpecialDay
from models.db import session_scope

RELEVE = str(Path(sys.executable).parent / "releve")


def run(args, env):
    return subprocess.run([RELEVE, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def clean_calendars(database_url):
    """These commands commit: the days and coverage they set are removed afterwards."""
    yield
    with session_scope(database_url) as session:
        session.execute(delete(SpecialDay))
        session.execute(delete(CalendarCoverage))


def test_offers_load_is_idempotent_and_says_so(env_for):
    result = run(["offers", "load"], env_for())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 added, 0 changed, 102 unchanged"


def test_offers_load_names_a_broken_file_in_one_line(env_for, tmp_path):
    (tmp_path / "catalogue.json").write_text('{"providers": [], "offers": [{"code": "X", "option": "NOPE"}]}')
    result = run(["offers", "load", "--dir", str(tmp_path)], env_for())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "Error: catalogue.json: offer 'X' has an unknown option"


def test_offers_list_shows_status_and_the_cre_figure(env_for):
    result = run(["offers", "list", "--offer", "EDF_TRV_HC_HP", "--on", "2026-03-01"], env_for())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 9  # 8 powers, then the summary
    assert lines[0].split() == ["EDF_TRV_HC_HP", "6", "kVA", "from", "2026-02-01", "in", "force", "fixed", "15.65",
                                "EUR/month", "(CRE", "188.24", "EUR/year)", "hc=0.1578", "hp=0.2065",
                                "[conflict_subscription]"]
    assert lines[-1].startswith("8 period(s). Catalogue by status: conflict_subscription 14,")


def test_calendar_days_are_set_shown_and_unset(env_for, clean_calendars):
    env = env_for()
    result = run(["calendar", "set", "ejp", "2026-01-12", "2026-01-13", "--source", "EDF, annonce du 11/01"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ejp: 2 day(s) added (2026-01-12, 2026-01-13), 0 already set."
    assert run(["calendar", "known", "ejp", "--from", "2025-11-01", "--through", "2026-01-31"], env).returncode == 0
    shown = run(["calendar", "show", "--from", "2026-01-12", "--to", "2026-01-15"], env).stdout.splitlines()
    assert [line.split()[5] for line in shown] == ["yes", "yes", "no"]  # listed, listed, covered but not listed
    assert all("tempo ?" in line for line in shown)  # no colour stored: unknown, not guessed
    result = run(["calendar", "unset", "ejp", "2026-01-13", "2026-01-20"], env)
    assert result.stdout.strip() == "ejp: 1 day(s) removed (2026-01-13), 1 were not set."


def test_calendar_refusals_are_one_clear_line(env_for, clean_calendars):
    env = env_for()
    summer = run(["calendar", "set", "ejp", "2026-07-01"], env)
    assert summer.returncode == 1 and summer.stderr.strip() == "Error: 2026-07-01: EJP days fall between 1 November " \
                                                                "and 31 March"
    not_a_day = run(["calendar", "set", "sobriete", "le 3 février"], env)
    assert not_a_day.returncode == 2 and "is not a day (YYYY-MM-DD)" in not_a_day.stderr
    assert "Traceback" not in summer.stderr + not_a_day.stderr
