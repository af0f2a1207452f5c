"""The schema makes bad states impossible."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError

from models import ApiClient, EnedisConsent, Offer, OfferPrice, TempoDay, UsagePoint, User

from factories import PASSWORD, make_user


def test_password_is_hashed_with_argon2(session):
    user = make_user(session, "alice@example.org", password=PASSWORD)
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert user.check_password(PASSWORD)
    assert not user.check_password("wrong")


@pytest.mark.parametrize("pdl", ["1234567890123", "1234567890123a", "", " 1234567890123"])
def test_pdl_must_be_14_digits(session, pdl):
    user = make_user(session, "alice@example.org")
    session.add(UsagePoint(pdl=pdl, user_id=user.id))
    with pytest.raises(IntegrityError, match="ck_usage_points_pdl_14_digits"):
        session.flush()


def test_pdl_longer_than_14_is_refused(session):
    user = make_user(session, "alice@example.org")
    session.add(UsagePoint(pdl="123456789012345", user_id=user.id))
    with pytest.raises(DataError, match="value too long"):
        session.flush()


def test_pdl_keeps_leading_zeros_and_has_one_owner(session):
    alice, bob = make_user(session, "alice@example.org"), make_user(session, "bob@example.org")
    session.add(UsagePoint(pdl="01234567890123", user_id=alice.id))
    session.flush()
    assert session.scalar(select(UsagePoint.pdl)) == "01234567890123"
    session.add(UsagePoint(pdl="01234567890123", user_id=bob.id))
    with pytest.raises(IntegrityError, match="uq_usage_points_pdl"):
        session.flush()


def test_email_must_be_normalised_and_unique(session):
    session.add(User(email="Alice@Example.org", password_hash="x"))
    with pytest.raises(IntegrityError, match="ck_users_email_normalised"):
        session.flush()
    session.rollback()
    make_user(session, "alice@example.org")
    session.add(User(email="alice@example.org", password_hash="x"))
    with pytest.raises(IntegrityError, match="uq_users_email"):
        session.flush()


def test_api_client_secret_stored_only_as_hash(session):
    user = make_user(session, "alice@example.org")
    client, secret = ApiClient.issue(user.id, "Home Assistant")
    session.add(client)
    session.flush()
    stored = session.scalar(select(ApiClient.secret_hash).where(ApiClient.id == client.id))
    assert secret not in stored and len(stored) == 64
    assert client.check_secret(secret) and not client.check_secret(secret + "x")


def test_active_consent_needs_prms_and_a_coherent_expiry(session):
    user = make_user(session, "alice@example.org")
    now = datetime.now(UTC)
    base = dict(user_id=user.id, state_expires_at=now + timedelta(minutes=5))
    session.add(EnedisConsent(state_hash="a" * 64, status="active", prms=[], **base))
    with pytest.raises(IntegrityError, match="ck_enedis_consents_active_has_prms"):
        session.flush()
    session.rollback()
    user = make_user(session, "alice@example.org")
    base["user_id"] = user.id
    session.add(EnedisConsent(state_hash="b" * 64, status="active", prms=["22516914714270"],
                              started_at=now, expires_at=now - timedelta(days=1), **base))
    with pytest.raises(IntegrityError, match="ck_enedis_consents_expiry_after_start"):
        session.flush()


def test_deleting_a_user_removes_their_points(session):
    user = make_user(session, "alice@example.org")
    session.add(UsagePoint(pdl="22516914714270", user_id=user.id))
    session.flush()
    session.delete(user)
    session.flush()
    session.expire_all()
    assert session.scalar(select(UsagePoint).where(UsagePoint.pdl == "22516914714270")) is None


def test_tempo_colour_and_offer_ranges(session):
    now = datetime.now(UTC)
    session.add(TempoDay(day=date(2026, 11, 24), colour="GREEN", updated_at=now, fetched_at=now))
    with pytest.raises(IntegrityError, match="ck_tempo_days_colour_known"):
        session.flush()
    session.rollback()
    offer = session.scalar(select(Offer).where(Offer.code == "EDF_TRV_TEMPO"))  # seeded by `releve db upgrade`
    session.add(OfferPrice(offer_id=offer.id, kva=42, valid_from=date(2030, 2, 1), fixed_eur_month=Decimal("15.5"),
                           status="single_source", sources=["test"]))
    with pytest.raises(IntegrityError, match="ck_offer_prices_kva_standard"):
        session.flush()
