"""`/api/v1` against its OpenAPI document, over real HTTP to a real `releve web` (gunicorn, two workers).

schemathesis generates requests from the document (a capped number per operation) and checks every answer:
no 5xx, a documented status, JSON where JSON is said, a body and headers that fit the schemas. Then many
callers at once, across the web's processes, spend an upstream quota: never more than its limit.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, timedelta

import hypothesis
import pytest
import redis
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)
from sqlalchemy import delete

from factories import made_up_pdl, make_point, make_user
from models.api_clients import ApiClient
from models.cache import EncryptedCache
from models.calendar import last_published_day, now_paris
from models.db import session_scope
from models.settings import Settings
from models.users import User
from tests_helpers import Processes, free_port, wait_until

pytestmark = pytest.mark.slow

UPSTREAM_PER_DAY = 10
MAX_EXAMPLES = 25  # per operation: ~400 requests in all
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def gateway(env_for, valkey_databases, database_url):
    """A running `releve web` on a Valkey database of its own; an account with a meter, a few cached
    days, and two API secrets (one for schemathesis, one for the quota test)."""
    valkey_url = valkey_databases.lease()
    env = env_for(VALKEY_URL=valkey_url, CELERY_BROKER_URL=valkey_url, API_QUOTA_PER_MINUTE="100000",
                  API_QUOTA_PER_DAY="100000", API_UPSTREAM_QUOTA_PER_MINUTE="100000",
                  API_UPSTREAM_QUOTA_PER_DAY=str(UPSTREAM_PER_DAY))
    with session_scope(database_url) as session:
        user = make_user(session)
        point = make_point(session, user, made_up_pdl("93"), kind="consumption")
        issued = [ApiClient.issue(user.id, name) for name in ("schemathesis", "quota")]
        session.add_all(client for client, _ in issued)
        user_id, point_id, pdl = user.id, point.id, point.pdl
    settings = Settings.from_env(env)
    last = last_published_day(now_paris())
    first = last - timedelta(days=39)
    EncryptedCache.from_settings(redis.Redis.from_url(valkey_url), settings).put_days(
        user_id, point_id, "daily_consumption",
        {first + timedelta(days=i): {"day": (first + timedelta(days=i)).isoformat(), "value": 5000 + i}
         for i in range(40)})
    port = free_port()
    processes = Processes()
    web = processes.start(["web", "--bind", f"127.0.0.1:{port}", "--workers", "2"], env)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert web.poll() is None, web.log.read_text()
        try:
            return requests.get(f"{base}/livez", timeout=10).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # still starting, on a busy machine
            return False

    try:
        wait_until(up, timeout=90, interval=0.3)
        yield {"base": base, "pdl": pdl, "first": first, "last": last,
               "secrets": [secret for _, secret in issued]}
    finally:
        processes.stop_all()
        with session_scope(database_url) as session:
            session.execute(delete(User).where(User.id == user_id))
        valkey_databases.release(valkey_url)


@pytest.fixture(scope="module")
def api_schema(gateway):
    """The document the gateway serves, read over HTTP; the test account's PDL and dates as examples, so
    generated requests reach the cache, the miss and the ranges, not only 404s."""
    document = requests.get(f"{gateway['base']}/api/v1/openapi.json", timeout=30).json()
    for item in document["paths"].values():
        for parameter in item["get"]["parameters"]:
            if parameter["name"] == "pdl":
                parameter["examples"] = {"own": {"value": gateway["pdl"]}, "other": {"value": "00000000000000"}}
            elif parameter["name"] in ("start", "end"):
                day = gateway["first"] if parameter["name"] == "start" else gateway["last"] + timedelta(days=1)
                parameter["examples"] = {"cached": {"value": day.isoformat()}}
    return schemathesis.openapi.from_dict(document)


def test_every_answer_fits_the_document(api_schema, gateway):
    """Each operation: its examples, then MAX_EXAMPLES generated requests, valid and invalid (the pytest
    plugin's `from_fixture` does not run under pytest 9, so hypothesis is driven here)."""
    headers = {"Authorization": f"Bearer {gateway['secrets'][0]}"}
    tried, seen = [], Counter()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        strategies = [*operation.get_strategies_from_examples(),
                      *(operation.as_strategy(generation_mode=mode) for mode in GenerationMode)]

        @hypothesis.given(case=hypothesis.strategies.one_of(strategies))
        @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        def check(case):
            response = case.call_and_validate(base_url=f"{gateway['base']}/api/v1", timeout=60, headers=headers,
                                              checks=CHECKS)
            seen[response.status_code] += 1

        check()
        tried.append(operation.label)
    assert len(tried) == 15, tried
    # The cache, the miss, bad parameters and other PDLs were all reached, not only one kind of answer.
    assert {200, 202, 400, 404} <= set(seen), seen


def test_the_cached_year_and_a_miss_over_http(gateway):
    headers = {"Authorization": f"Bearer {gateway['secrets'][0]}"}
    url = f"{gateway['base']}/api/v1/meters/{gateway['pdl']}/consumption/daily"
    cached = requests.get(url, params={"start": gateway["first"].isoformat(),
                                       "end": (gateway["last"] + timedelta(days=1)).isoformat()},
                          headers=headers, timeout=60)
    assert cached.status_code == 200 and len(cached.json()["values"]) == 40
    assert cached.headers["X-Quota-Cache-Minute"].split("/")[1] == "100000"


def test_concurrent_callers_across_processes_never_exceed_the_quota(gateway):
    """Each request asks for a different day not cached, so each would send a fetch (an upstream read):
    32 at once over 2 web processes, UPSTREAM_PER_DAY of them accepted, the others refused, none lost."""
    headers = {"Authorization": f"Bearer {gateway['secrets'][1]}"}
    url = f"{gateway['base']}/api/v1/meters/{gateway['pdl']}/consumption/daily"
    start = gateway["first"] - timedelta(days=100)
    codes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(32)

    def call(i: int) -> None:
        day: date = start + timedelta(days=2 * i)  # one day each, never adjacent: one window each
        barrier.wait(timeout=60)
        response = requests.get(url, params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
                                headers=headers, timeout=120)
        with lock:
            codes.append(response.status_code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert len(codes) == 32
    assert codes.count(202) == UPSTREAM_PER_DAY and codes.count(429) == 32 - UPSTREAM_PER_DAY
    quota = requests.get(f"{gateway['base']}/api/v1/quota", headers=headers, timeout=60).json()
    assert quota["used"]["upstream:day"] == UPSTREAM_PER_DAY
