"""The offer catalogue: seeded from the reference file exactly, idempotent, history-aware, overlap-proof."""

import hashlib
import json
import re
import shutil
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from models.offer_catalogue import CatalogueError, data_dir, load_catalogue, read_catalogue
from models.offers import (
    OPTION_RULES, Offer, OfferEnergyPrice, OfferPrice, Provider, catalogue_prices, earliest_price_day, offers_for_kva,
    price_periods, status_counts,
)

PRICE_FILE = data_dir() / "edf-tarif-bleu.json"


def reference_rows() -> list[dict]:
    """The rows of the price file, numbers as Decimal from their JSON text (never a float)."""
    return json.loads(PRICE_FILE.read_text(encoding="utf-8"), parse_float=Decimal)


def stored(session, code: str, kva: int, first: date) -> OfferPrice | None:
    return session.scalar(select(OfferPrice).join(Offer).where(Offer.code == code, OfferPrice.kva == kva,
                                                               OfferPrice.valid_from == first))


def test_the_price_file_is_the_reference_verbatim():
    """The project's copy is byte for byte the reference it names (catalogue.json records its SHA-256)."""
    catalogue = json.loads((data_dir() / "catalogue.json").read_text(encoding="utf-8"))
    (entry,) = catalogue["price_files"]
    recorded = re.search(r"sha256 ([0-9a-f]{64})", entry["copied_from"]).group(1)
    assert hashlib.sha256(PRICE_FILE.read_bytes()).hexdigest() == recorded
    assert len(reference_rows()) == 102


def test_every_seeded_price_is_the_reference_row_with_its_source_and_status(session):
    rows = reference_rows()
    assert session.scalar(select(func.count()).select_from(OfferPrice).join(Offer)
                          .where(Offer.owner_id.is_(None))) == len(rows)
    for row in rows:
        first = date.fromisoformat(row["valid_from"])
        price = stored(session, row["offer"], row["kva"], first)
        assert price is not None, row
        last = date.fromisoformat(row["valid_to"]) if row["valid_to"] else None
        assert price.valid_to == (last + timedelta(days=1) if last else None)  # stored exclusive
        assert price.fixed_eur_month == row["subscription_eur_month"]
        assert isinstance(price.fixed_eur_month, Decimal)
        assert price.fixed_eur_year_cre == row.get("subscription_eur_year_cre")
        assert price.energy == row["prices"] and all(isinstance(v, Decimal) for v in price.energy.values())
        assert price.status == row["status"]
        assert price.sources == row["source"]
        assert price.notes == (row.get("notes") or "")


def test_the_offers_follow_their_option(session):
    offers = {o.code: o for o in session.scalars(select(Offer).where(Offer.owner_id.is_(None)))}
    assert set(offers) == {"EDF_TRV_BASE", "EDF_TRV_HC_HP", "EDF_TRV_TEMPO", "EDF_TRV_EJP", "EDF_ZEN_WEEKEND",
                           "EDF_ZEN_WEEKEND_HC", "EDF_ZEN_FLEX"}
    tempo, hc, flex, ejp = (offers[c] for c in ("EDF_TRV_TEMPO", "EDF_TRV_HC_HP", "EDF_ZEN_FLEX", "EDF_TRV_EJP"))
    assert (tempo.option, tempo.day_calendar, tempo.offpeak_source) == ("TEMPO", "tempo", "offer")
    assert [r.label() for r in tempo.fixed_offpeak_ranges()] == ["22h00–6h00"]
    assert (hc.offpeak_source, hc.fixed_offpeak_ranges()) == ("contract", None)
    assert [r.label() for r in flex.fixed_offpeak_ranges()] == ["0h00–8h00", "13h00–18h00", "20h00–0h00"]
    assert flex.day_calendar == "sobriete" and ejp.day_calendar == "ejp" and not ejp.open_to_new_customers
    assert offers["EDF_ZEN_WEEKEND"].holidays_as_weekend is False
    assert session.scalar(select(Provider.name).where(Provider.code == "EDF")) == "EDF"
    for price in session.scalars(select(OfferPrice).join(Offer).where(Offer.owner_id.is_(None))):
        assert set(price.energy) == set(OPTION_RULES[price.offer.option].buckets)


def test_loading_again_changes_nothing(session):
    report = load_catalogue(session)
    assert not report.touched and report.added == report.changed == report.not_in_files == []
    assert report.unchanged == 102
    assert report.lines()[-1] == "0 added, 0 changed, 102 unchanged"


def test_no_price_is_invented_where_the_reference_has_none(session):
    tempo = session.scalar(select(Offer.id).where(Offer.code == "EDF_TRV_TEMPO"))
    base = session.scalar(select(Offer.id).where(Offer.code == "EDF_TRV_BASE"))
    ejp = session.scalar(select(Offer.id).where(Offer.code == "EDF_TRV_EJP"))
    assert price_periods(session, tempo, 3) == []  # Tempo has no 3 kVA
    assert price_periods(session, tempo, 24) == []  # nor 24 kVA
    assert price_periods(session, ejp, 6) == []  # EJP: 9, 12, 15, 18, 36 only
    assert price_periods(session, base, 6, date(2024, 1, 1), date(2025, 2, 1)) == []  # before the first grid
    assert [p.valid_from for p in price_periods(session, base, 6)] == [date(2025, 2, 1), date(2025, 8, 1),
                                                                       date(2026, 2, 1)]


def test_a_period_split_by_a_price_change_gives_both_periods(session):
    base = session.scalar(select(Offer.id).where(Offer.code == "EDF_TRV_BASE"))
    periods = price_periods(session, base, 6, date(2025, 7, 15), date(2025, 8, 15))
    assert [(p.valid_from, p.valid_to, p.prices["base"]) for p in periods] == [
        (date(2025, 2, 1), date(2025, 8, 1), Decimal("0.2016")), (date(2025, 8, 1), date(2026, 2, 1), Decimal("0.1952"))]
    assert periods[0].covers(date(2025, 7, 31)) and not periods[0].covers(date(2025, 8, 1))
    assert earliest_price_day(session, "tempo") == date(2025, 2, 1)
    assert earliest_price_day(session, "ejp") == date(2026, 2, 1)


def test_offers_for_a_kva_are_those_with_a_price_there(session):
    codes = {o.code for o in offers_for_kva(session, 3, None)}
    assert codes == {"EDF_TRV_BASE", "EDF_ZEN_WEEKEND"}
    on_day = {o.code for o in offers_for_kva(session, 9, None, on=date(2025, 9, 1))}
    assert on_day == {"EDF_TRV_BASE", "EDF_TRV_HC_HP", "EDF_TRV_TEMPO"}  # EJP and Zen start in 2026


def test_status_is_visible_to_the_admin_area(session):
    reference = {}
    for row in reference_rows():
        reference[row["status"]] = reference.get(row["status"], 0) + 1
    assert status_counts(session) == reference
    conflicts = catalogue_prices(session, status="conflict_subscription")
    assert len(conflicts) == reference["conflict_subscription"]
    base6 = next(r for r in conflicts if r.offer_code == "EDF_TRV_BASE" and r.kva == 6)
    assert (base6.fixed_eur_month, base6.fixed_eur_year_cre) == (Decimal("15.65"), Decimal("188.2"))
    assert base6.status_label == "abonnement : les sources divergent" and len(base6.sources) == 3
    in_force = catalogue_prices(session, offer_code="EDF_TRV_TEMPO", on=date(2025, 12, 1))
    assert [(r.kva, r.energy["tempo_red_hp"]) for r in in_force] == [
        (k, Decimal("0.6468")) for k in (6, 9, 12, 15, 18, 30, 36)]


def test_overlapping_periods_are_refused_by_the_database(session):
    offer = session.scalar(select(Offer).where(Offer.code == "EDF_TRV_BASE"))

    def add(kva, first, until):
        session.add(OfferPrice(offer_id=offer.id, kva=kva, valid_from=first, valid_to=until,
                               fixed_eur_month=Decimal("1"), status="single_source", sources=["test"]))
        session.flush()

    with pytest.raises(IntegrityError, match="ex_offer_prices_no_overlap"), session.begin_nested():
        add(6, date(2025, 6, 1), date(2025, 9, 1))  # straddles the 1 August change
    with pytest.raises(IntegrityError, match="ex_offer_prices_no_overlap"), session.begin_nested():
        add(6, date(2027, 1, 1), None)  # inside the period still in force
    add(6, date(2024, 1, 1), date(2025, 2, 1))  # ends the day the first one starts: adjacent, accepted
    add(3, date(2024, 6, 1), date(2024, 7, 1))  # another kVA is another series
    other = session.scalar(select(Offer).where(Offer.code == "EDF_TRV_HC_HP"))
    session.add(OfferPrice(offer_id=other.id, kva=6, valid_from=date(2025, 6, 1), valid_to=date(2025, 9, 1),
                           fixed_eur_month=Decimal("1"), status="single_source", sources=["test"]))
    with pytest.raises(IntegrityError, match="ex_offer_prices_no_overlap"):
        session.flush()  # HC_HP 6 kVA has its own periods there


@pytest.mark.parametrize("bad, constraint", [
    ({"fixed_eur_month": Decimal("-1")}, "ck_offer_prices_fixed_range"),
    ({"valid_to": date(2030, 1, 1), "valid_from": date(2030, 1, 1)}, "ck_offer_prices_validity_order"),
    ({"valid_from": date(1999, 12, 31)}, "ck_offer_prices_validity_range"),
    ({"status": "guessed"}, "ck_offer_prices_status_known"),
    ({"sources": []}, "ck_offer_prices_sourced"),
])
def test_prices_outside_their_ranges_are_refused(session, bad, constraint):
    offer = session.scalar(select(Offer).where(Offer.code == "EDF_TRV_BASE"))
    values = {"offer_id": offer.id, "kva": 9, "valid_from": date(2040, 1, 1), "valid_to": None,
              "fixed_eur_month": Decimal("10"), "status": "single_source", "sources": ["test"], **bad}
    session.add(OfferPrice(**values))
    with pytest.raises(IntegrityError, match=constraint):
        session.flush()


@pytest.mark.parametrize("bucket, value, constraint", [
    ("base", Decimal("0"), "ck_offer_energy_prices_price_range"),
    ("base", Decimal("12"), "ck_offer_energy_prices_price_range"),
    ("cheap", Decimal("0.1"), "ck_offer_energy_prices_bucket_known"),
])
def test_energy_prices_outside_their_ranges_are_refused(session, bucket, value, constraint):
    price = stored(session, "EDF_TRV_BASE", 6, date(2025, 2, 1))
    session.execute(text("DELETE FROM offer_energy_prices WHERE price_id = :p"), {"p": price.id})
    session.add(OfferEnergyPrice(price_id=price.id, bucket=bucket, eur_kwh=value))
    with pytest.raises(IntegrityError, match=constraint):
        session.flush()


def test_an_offer_breaking_its_option_rules_is_refused(session):
    provider = session.scalar(select(Provider).where(Provider.code == "EDF"))
    session.add(Offer(code="X_TEMPO", provider_id=provider.id, name="x", option="TEMPO", offpeak_source="offer",
                      offpeak_hours="HC (22H00-6H00)", day_calendar="none"))
    with pytest.raises(IntegrityError, match="ck_offers_calendar_fits_option"):
        session.flush()


def dump(rows) -> str:
    """JSON with Decimals written as numbers, digit for digit (as the reference file writes them)."""
    marked = json.dumps(rows, default=lambda d: f"@@{d}@@" if isinstance(d, Decimal) else str(d))
    return re.sub(r'"@@([-0-9.E]+)@@"', r"\1", marked)


def copy_of_data(tmp_path):
    target = tmp_path / "offers"
    shutil.copytree(data_dir(), target)
    return target


def test_a_new_grid_in_the_file_closes_the_old_period_and_adds_the_new_one(session, tmp_path):
    """What the next price change looks like: the file closes the current period and opens one from
    1 August; the load applies both (the overlap check waits for the end of the load)."""
    directory = copy_of_data(tmp_path)
    rows = json.loads((directory / "edf-tarif-bleu.json").read_text(), parse_float=Decimal)
    current = next(r for r in rows if (r["offer"], r["kva"], r["valid_from"]) == ("EDF_TRV_BASE", 6, "2026-02-01"))
    current["valid_to"] = "2026-07-31"
    rows.append({**current, "valid_from": "2026-08-01", "valid_to": None, "subscription_eur_month": Decimal("16.01"),
                 "prices": {"base": Decimal("0.1999")}, "status": "single_source", "source": ["a test grid"]})
    (directory / "edf-tarif-bleu.json").write_text(dump(rows))
    report = load_catalogue(session, directory)
    assert report.added == ["EDF_TRV_BASE 6 kVA from 2026-08-01"]
    assert report.changed == ["EDF_TRV_BASE 6 kVA from 2026-02-01"]
    base = session.scalar(select(Offer.id).where(Offer.code == "EDF_TRV_BASE"))
    periods = price_periods(session, base, 6, date(2026, 7, 1), date(2026, 9, 1))
    assert [(p.valid_from, p.valid_to, p.fixed_eur) for p in periods] == [
        (date(2026, 2, 1), date(2026, 8, 1), Decimal("15.65")), (date(2026, 8, 1), None, Decimal("16.01"))]
    again = load_catalogue(session, directory)
    assert not again.touched and again.unchanged == 103


def test_a_file_that_overlaps_itself_fails_the_load(session, tmp_path):
    directory = copy_of_data(tmp_path)
    rows = json.loads((directory / "edf-tarif-bleu.json").read_text(), parse_float=Decimal)
    first = next(r for r in rows if (r["offer"], r["kva"], r["valid_from"]) == ("EDF_TRV_BASE", 6, "2025-02-01"))
    rows.append({**first, "valid_from": "2025-03-01"})  # inside the February period
    (directory / "edf-tarif-bleu.json").write_text(dump(rows))
    with pytest.raises(IntegrityError, match="ex_offer_prices_no_overlap"), session.begin_nested():
        load_catalogue(session, directory)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(prices={"base": Decimal("0.2"), "hp": Decimal("0.3")}), "not the buckets of BASE"),
    (lambda r: r.update(kva=7), "kva 7"),
    (lambda r: r.update(status="made_up"), "unknown status"),
    (lambda r: r.update(source=[]), "names its sources"),
    (lambda r: r.update(subscription_eur_month="12,03"), "must be a number"),
    (lambda r: r.update(offer="EDF_NOPE"), "not in catalogue.json"),
    (lambda r: r.update(valid_to="2025-01-01"), "before valid_from"),
])
def test_a_wrong_row_names_its_file_and_row(tmp_path, change, message):
    directory = copy_of_data(tmp_path)
    rows = json.loads((directory / "edf-tarif-bleu.json").read_text(), parse_float=Decimal)
    change(rows[0])
    (directory / "edf-tarif-bleu.json").write_text(dump(rows))
    with pytest.raises(CatalogueError, match=rf"edf-tarif-bleu\.json row 0: .*{re.escape(message)}"):
        read_catalogue(directory)
