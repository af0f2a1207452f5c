"""`models.access`: who an API secret is, kept in Valkey, and forgotten the moment that changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import redis
from freezegun import freeze_time
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from factories import make_point, make_user
from models import access
from models.access import Access, AccessCache, KeptPoint
from models.api_clients import ApiClient
from models.cache import EncryptedCache
from models.keys import access_generation_key, access_key
from models.household_offers import HouseholdOfferInput, create_household_offer, delete_household_offer
from models.usage_points import UsagePoint
from models.users import User
from pipeline.api import load_access
from sandbox.testing import free_port


@pytest.fixture
def watched(valkey_url, monkeypatch):
    """This process's sessions bump generations in the test's Valkey database."""
    monkeypatch.setattr(access, "_valkey_url", valkey_url)


@pytest.fixture
def kept(valkey, settings) -> AccessCache:
    return AccessCache(valkey, EncryptedCache.from_settings(valkey, settings))


def issue(session, user) -> ApiClient:
    client, _secret = ApiClient.issue(user.id, "script")
    session.add(client)
    session.flush()
    return client


def generation(valkey, client: ApiClient) -> int:
    return int(valkey.get(access_generation_key(client.secret_hash)) or 0)


def test_a_kept_point_has_every_column_of_the_usage_points_table():
    assert set(KeptPoint.__dataclass_fields__) == {c.key for c in UsagePoint.__table__.columns}


def test_an_access_survives_its_trip_through_json(session):
    user = make_user(session)
    point = make_point(session, user, kind="consumption", activation_date=date(2021, 3, 4), name="Maison")
    made = Access.of(7, "c1", user.id, [point])
    again = Access.from_json(made.to_json())
    assert again == made
    assert again.point(point.pdl).activation_date == date(2021, 3, 4)
    assert again.point(point.pdl).created_at == point.created_at
    assert again.point("00000000000000") is None and again.point(None) is None


def test_an_entry_serves_until_its_clients_generation_changes(session, valkey, kept):
    user = make_user(session)
    point = make_point(session, user, kind="consumption")
    client = issue(session, user)
    assert kept.lookup(client.secret_hash) == (None, 0)
    kept.keep(client.secret_hash, 0, Access.of(client.id, client.client_id, user.id, [point]))
    found, gen = kept.lookup(client.secret_hash)
    assert gen == 0 and found.user_id == user.id and found.point(point.pdl).id == point.id
    assert 0 < valkey.ttl(access_key(client.secret_hash)) <= access.ACCESS_TTL
    access.bump(valkey, [client.secret_hash])
    assert kept.lookup(client.secret_hash) == (None, 1)
    assert access.ACCESS_TTL * 100 < valkey.ttl(access_generation_key(client.secret_hash)) <= access.GENERATION_TTL
    # Kept under generation 1; once its counter is gone, the generation reads 0 again: a miss, never stale.
    kept.keep(client.secret_hash, 1, Access.of(client.id, client.client_id, user.id, [point]))
    assert kept.lookup(client.secret_hash)[0] is not None
    valkey.delete(access_generation_key(client.secret_hash))
    assert kept.lookup(client.secret_hash) == (None, 0)


def test_an_entry_written_by_anyone_else_is_a_miss(session, valkey, kept):
    user, other = make_user(session), make_user(session)
    mine, theirs = issue(session, user), issue(session, other)
    kept.keep(theirs.secret_hash, 0, Access.of(theirs.id, theirs.client_id, other.id, []))
    # Someone with write access to Valkey copies another secret's sealed entry under theirs, or writes one.
    valkey.set(access_key(mine.secret_hash), valkey.get(access_key(theirs.secret_hash)))
    assert kept.lookup(mine.secret_hash) == (None, 0)
    valkey.set(access_key(mine.secret_hash), b'{"g": 0, "a": {"c": 1, "i": "x", "u": 1, "p": []}}')
    assert kept.lookup(mine.secret_hash) == (None, 0)


CHANGES = {
    "client revoked": lambda s, u, p, c, o: setattr(c, "revoked_at", datetime.now(UTC)),
    "account disabled": lambda s, u, p, c, o: setattr(u, "is_active", False),
    "point added": lambda s, u, p, c, o: make_point(s, u),
    "point removed": lambda s, u, p, c, o: s.delete(p),
    "point moved": lambda s, u, p, c, o: setattr(p, "user_id", o.id),
    "point renamed": lambda s, u, p, c, o: setattr(p, "name", "Grenier"),
    "point's consent ended": lambda s, u, p, c, o: setattr(p, "status", "consent_needed"),
    "load curve off": lambda s, u, p, c, o: setattr(p, "load_curve_enabled", False),
    "account deleted": lambda s, u, p, c, o: s.delete(u),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_what_changes_who_may_read_what_bumps_every_client_concerned(change, session, valkey, watched):
    user, other = make_user(session), make_user(session)
    point = make_point(session, user, kind="consumption")
    client, second, others = issue(session, user), issue(session, user), issue(session, other)
    CHANGES[change](session, user, point, client, other)
    session.flush()
    assert generation(valkey, client) >= 1
    if change != "client revoked":  # the account's every client, not only one
        assert generation(valkey, second) >= 1
    assert generation(valkey, others) == (1 if change == "point moved" else 0)  # the new holder's too


def test_what_no_answer_depends_on_bumps_nothing(session, valkey, watched):
    user = make_user(session)
    point = make_point(session, user, kind="consumption")
    client = issue(session, user)
    point.last_refreshed_at = datetime.now(UTC)
    client.last_used_at = datetime.now(UTC)
    client.name = "renamed"
    user.email = "someone.else@example.org"
    session.flush()
    assert generation(valkey, client) == 0


def test_a_change_valkey_cannot_hear_of_is_not_made(session, valkey, monkeypatch):
    user = make_user(session)
    client = issue(session, user)
    monkeypatch.setattr(access, "_valkey_url", f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    client.revoked_at = datetime.now(UTC)
    with pytest.raises(redis.ConnectionError):
        session.flush()
    session.rollback()
    assert session.scalar(select(ApiClient.revoked_at).where(ApiClient.id == client.id)) is None


def test_bumped_again_at_commit_so_a_read_just_before_it_is_never_kept(session, valkey, kept, watched):
    user = make_user(session)
    point = make_point(session, user, kind="consumption")
    client = issue(session, user)
    session.commit()
    client.revoked_at = datetime.now(UTC)
    session.flush()  # first bump: before the row is written
    # A request looks the secret up now, reads PostgreSQL, which still says "not revoked" (not committed),
    # and keeps that under the generation it saw.
    _, seen = kept.lookup(client.secret_hash)
    kept.keep(client.secret_hash, seen, Access.of(client.id, client.client_id, user.id, [point]))
    assert kept.lookup(client.secret_hash)[0] is not None
    session.commit()  # second bump
    assert kept.lookup(client.secret_hash)[0] is None


def test_a_rolled_back_change_is_not_bumped_at_commit(session, valkey, watched):
    user = make_user(session)
    client = issue(session, user)
    session.commit()
    client.revoked_at = datetime.now(UTC)
    session.flush()
    session.rollback()
    assert generation(valkey, client) == 1
    session.commit()
    assert generation(valkey, client) == 1


def test_nothing_is_bumped_in_a_process_that_was_not_configured(session, valkey, monkeypatch):
    monkeypatch.setattr(access, "_valkey_url", None)
    user = make_user(session)
    client = issue(session, user)
    client.revoked_at = datetime.now(UTC)
    session.flush()
    assert generation(valkey, client) == 0


def test_a_client_added_while_its_account_is_disabled_is_bumped_at_the_commit(engine, valkey, kept, watched):
    """The disabling transaction lists the account's clients before its flush; one the owner adds and uses
    before that transaction commits (PostgreSQL lets it: the insert's key-share lock does not wait for the
    update of `is_active`) is found by the list made again after the commit."""
    with Session(engine, expire_on_commit=False) as setup:
        user = make_user(setup)
        setup.commit()
    try:
        with Session(engine) as admin, Session(engine) as owner, Session(engine) as request:
            admin.get(User, user.id).is_active = False
            admin.flush()  # first bump: the account has no client yet
            client, _secret = ApiClient.issue(user.id, "nouveau")
            owner.add(client)
            owner.commit()
            _, seen = kept.lookup(client.secret_hash)  # a request with the new secret, before the commit
            kept.keep(client.secret_hash, seen, load_access(request, client.secret_hash))
            request.commit()
            assert kept.lookup(client.secret_hash)[0] is not None
            admin.commit()
        assert kept.lookup(client.secret_hash)[0] is None
    finally:
        with Session(engine) as cleanup:
            cleanup.execute(delete(User).where(User.id == user.id))
            cleanup.commit()


def test_an_entry_put_back_after_its_minute_is_a_miss(session, valkey, kept):
    """Someone who can write to Valkey saves an entry and puts it back, generation and all, after the
    secret was revoked: the expiry sealed inside it refuses it."""
    user = make_user(session)
    client = issue(session, user)
    with freeze_time(datetime.now(UTC)) as clock:
        _, seen = kept.lookup(client.secret_hash)
        kept.keep(client.secret_hash, seen, load_access(session, client.secret_hash))
        saved = valkey.get(access_key(client.secret_hash))
        access.bump(valkey, [client.secret_hash])
        clock.tick(timedelta(seconds=access.ACCESS_TTL + 1))
        valkey.set(access_key(client.secret_hash), saved)
        valkey.set(access_generation_key(client.secret_hash), seen)
        assert kept.lookup(client.secret_hash)[0] is None


def test_a_generation_that_is_not_a_number_is_a_miss_not_an_error(session, valkey, kept):
    user = make_user(session)
    client = issue(session, user)
    kept.keep(client.secret_hash, 0, load_access(session, client.secret_hash))
    valkey.set(access_generation_key(client.secret_hash), b"\x00garbage")
    assert kept.lookup(client.secret_hash) == (None, -1)


def test_deleting_a_household_offer_bumps_its_owners_clients(session, valkey, watched):
    """PostgreSQL empties the points' `offer_id` (ON DELETE SET NULL), out of the ORM's sight."""
    user = make_user(session)
    offer = create_household_offer(session, user.id, HouseholdOfferInput(
        name="Mon offre", supplier_name="Fournisseur local", option="BASE", kva=9, valid_from=date(2025, 3, 1),
        valid_to=None, fixed_eur_month=Decimal("17.90"), energy={"base": Decimal("0.2016")}))
    make_point(session, user, kind="consumption", offer_id=offer.id)
    client = issue(session, user)
    assert delete_household_offer(session, user.id, offer.id)
    assert generation(valkey, client) >= 1
