"""Hostile input is a 4xx, never a 500: huge ids, control characters, NUL bytes, races, and a fuzz of every route."""

from __future__ import annotations

import logging
import re
import threading
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from flask import got_request_exception
from werkzeug.datastructures import ImmutableMultiDict
from sqlalchemy import create_engine, delete, func, select, text

from models.api_clients import ApiClient
from models.settings import Settings
from models.transfers import TransferRequest
from models.usage_points import UsagePoint
from models.permissions import ADMIN
from models.users import Role, User

from factories import make_point, make_user

PASSWORD = "correct horse battery"


def csrf(client, url: str = "/tableau-de-bord") -> str:
    page = client.get(url).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


# -- the four 500s of the probe ----------------------------------------------------------------


@pytest.mark.parametrize("pk", ["99999999999999999999", "2147483648", "9" * 5000, "١٢٣", "１"])
@pytest.mark.parametrize("action", ["revoquer", "regenerer"])
def test_an_id_out_of_range_or_not_ascii_is_a_404(client, auth, pk, action):
    auth.signup()
    response = client.post(f"/parametres/api/{quote(pk)}/{action}", data={"csrf_token": csrf(client)})
    assert response.status_code == 404


def test_ids_in_range_still_work(client, auth, session):
    auth.signup()
    client.post("/parametres/api", data={"name": "HA", "csrf_token": csrf(client)})
    [api_client] = session.scalars(select(ApiClient))
    response = client.post(f"/parametres/api/{api_client.id}/revoquer", data={"csrf_token": csrf(client)})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(ApiClient, api_client.id).revoked_at is not None


@pytest.mark.parametrize("target", ["/%0D%0ASet-Cookie:x=1", "/%0ASet-Cookie:x=1", "/tableau-de-bord%00",
                                    "/%09/evil.example", "/%7F", "/%C2%85x", "/" + "a" * 5000])
def test_a_next_with_control_characters_is_a_bad_next(client, auth, target):
    auth.signup()
    response = client.get(f"/connexion?next={target}")  # logged in already: straight to `next`
    assert response.status_code == 302 and response.headers["Location"] == "/tableau-de-bord"
    auth.logout()
    response = auth.login(next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/tableau-de-bord"
    assert not any(h.startswith("x=") for h in response.headers.getlist("Set-Cookie"))


def test_a_plain_next_still_leads_there(client, auth):
    auth.signup()
    auth.logout()
    assert auth.login(next_url="/consommation?jour=2026-01-01").headers["Location"] == "/consommation?jour=2026-01-01"


@pytest.mark.parametrize("name", ["Home\x00Assistant", "\x1b[31mrouge", "ligne\r\nautre", "\x7f", "Home\u0085"])
def test_a_client_name_with_control_characters_is_a_form_error(client, auth, session, name):
    auth.signup()
    response = client.post("/parametres/api", data={"name": name, "csrf_token": csrf(client)})
    assert response.status_code == 400
    assert "caractères non autorisés" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ApiClient)) == 0


def test_control_characters_in_a_password_are_hashed_like_any_other(client, auth, session):
    """A password is only ever hashed: whatever it holds, it works, and nothing of it reaches a column."""
    password = "tab\there\x00nul\x1besc"
    assert auth.signup(password=password).status_code == 302
    auth.logout()
    assert auth.login(password="tab\there").status_code == 200  # wrong
    assert auth.login(password=password).headers["Location"] == "/tableau-de-bord"
    assert session.scalar(select(User.password_hash)).startswith("$argon2id$")


def shape(response) -> tuple:
    """What a person sees of an answer: status, where it leads, the messages on the page."""
    messages = re.findall(r'<p class="(?:error|flash[^"]*)"[^>]*>([^<]*)</p>', response.get_data(as_text=True))
    return response.status_code, response.headers.get("Location"), messages


def test_two_simultaneous_signups_with_one_email_end_as_an_existing_email(database_url, env_for, outbox, valkey,
                                                                        celery_app, wait_until, caplog):
    """Both requests pass the "is the address free?" check, then race to insert (a real race, on real
    connections): the loser answers exactly as for an address already taken, not with a 500."""
    from webapp import create_app

    email = "race@example.org"
    settings = Settings.from_env(env_for(MAIL_OUTBOX_DIR=str(outbox)))
    app = create_app({"RELEVE_SETTINGS": settings, "TESTING": True})
    engine = create_engine(database_url)
    results: list = []

    def sign_up(client, token):
        results.append(client.post("/inscription", data={"email": email, "password": PASSWORD, "confirm": PASSWORD,
                                                         "csrf_token": token}))

    clients = [app.test_client() for _ in range(2)]
    tokens = [csrf(c, "/inscription") for c in clients]
    try:
        with engine.connect() as blocker:
            # SELECTs pass this lock, INSERTs wait: both sign-ups get past the check, then meet at the insert.
            blocker.execute(text("LOCK TABLE users IN SHARE MODE"))
            threads = [threading.Thread(target=sign_up, args=pair) for pair in zip(clients, tokens)]
            for thread in threads:
                thread.start()

            def both_waiting():
                return blocker.execute(text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'users' AND NOT l.granted")).scalar() == 2

            with caplog.at_level(logging.DEBUG):
                wait_until(both_waiting, timeout=60)
                blocker.rollback()  # releases the lock: one insert wins
                for thread in threads:
                    thread.join(timeout=60)
        assert len(results) == 2 and all(r.status_code < 500 for r in results)
        late = app.test_client()  # the same address, once the race is over: the existing-address answer
        existing = late.post("/inscription", data={"email": email, "password": PASSWORD, "confirm": PASSWORD,
                                                   "csrf_token": csrf(late, "/inscription")})
        assert shape(existing) in [shape(r) for r in results]
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(User).where(User.email == email)).scalar() == 1
            password_hash = conn.execute(select(User.password_hash).where(User.email == email)).scalar()
        assert email not in caplog.text and password_hash not in caplog.text
    finally:
        with engine.begin() as conn:
            conn.execute(delete(User).where(User.email == email))
        engine.dispose()


# -- the 500 page ---------------------------------------------------------------------------------


@pytest.fixture
def failing_app(settings, connection, valkey):
    from webapp import create_app

    app = create_app({"RELEVE_SETTINGS": settings, "DB_BIND": connection, "TESTING": True,
                      "PROPAGATE_EXCEPTIONS": False})

    @app.post("/_boom/<word>")
    def boom(word):
        raise ValueError(f"secret value {word}")

    from webapp.extensions import csrf

    csrf.exempt(boom)
    return app


def test_an_unexpected_error_is_a_french_page_and_logs_no_request_data(failing_app, caplog):
    client = failing_app.test_client()
    with caplog.at_level(logging.DEBUG):
        response = client.post("/_boom/motdepasse-dans-le-chemin?jeton=dans-la-requete",
                               data={"champ": "valeur-du-formulaire"},
                               headers={"Authorization": "Bearer en-tete-secret", "Cookie": "session=cookie-secret"})
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Erreur interne" in page and '<html lang="fr">' in page
    incident = re.search(r"Référence de l'incident : <code>([0-9a-f]{8,})</code>", page).group(1)
    assert incident in caplog.text and "ValueError" in caplog.text and "boom" in caplog.text
    for leaked in ("motdepasse-dans-le-chemin", "dans-la-requete", "valeur-du-formulaire", "en-tete-secret",
                   "cookie-secret", "secret value", "/_boom"):
        assert leaked not in caplog.text
    assert "Traceback" not in caplog.text


def test_an_error_while_rendering_the_500_page_still_answers_in_french(failing_app, caplog):
    failing_app.jinja_env.globals["csrf_token"] = lambda: 1 / 0  # base.html cannot render any more
    with caplog.at_level(logging.DEBUG):
        response = failing_app.test_client().post("/_boom/x")
    assert response.status_code == 500 and "Erreur interne" in response.get_data(as_text=True)


def test_client_errors_are_french_pages(client, auth):
    auth.signup()
    too_big = client.post("/parametres/api", data={"name": "x" * 1_000_000, "csrf_token": csrf(client)})
    assert too_big.status_code == 413 and "trop volumineuses" in too_big.get_data(as_text=True)
    wrong_method = client.get("/parametres/api")
    assert wrong_method.status_code == 405 and "ne permet pas cette action" in wrong_method.get_data(as_text=True)
    missing = client.get("/api/ui/consommation.json")  # no pdl
    assert missing.status_code == 400 and "Requête invalide" in missing.get_data(as_text=True)


# -- a fuzz of every route, every form field and every route parameter ----------------------------

HOSTILE = {  # label: the value already percent-encoded, as it goes into a path, a query string or a form body
    "nul": quote("a\x00b"),
    "crlf": quote("/\r\nSet-Cookie: x=1"),  # a path: it must fail as a `next` too
    "controls": quote("\x1b[2J\x07\x7f\u0085"),
    "huge-int": "99999999999999999999",
    "negative": "-1",
    "1-MB": "x" * 1_000_000,
    "bad-utf8": "%FF%FE%C3%28",
    "surrogate-utf8": "%ED%A0%80",
    "arabic-digits": quote("١٢٣"),
    "fullwidth-date": quote("２０２６-０１-０１"),
}
PDL = "22516914714270"
# Valid-looking values for the parameters and fields the fuzz is not attacking at the moment;
# the passwords never match each other nor the account's, so no form changes a password or deletes.
SAMPLES = {"pdl": PDL, "conso": PDL, "prod": PDL, "jour": "2026-01-01", "vue": "semaine", "next": "/faq",
           "state": "s" * 44, "error": "", "usage_point_id": PDL, "code": "x",
           "email": "someone@example.org", "password": "wrong password 1", "confirm": "wrong password 2",
           "current": "wrong password 3", "confirm_password": "wrong password 4", "name": "HA", "customer": "0",
           "mois": "24", "comparer": "1"}


class Forms(HTMLParser):
    """The POST forms of a page: action → {field name: default value}."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self.current: dict[str, str] | None = None
        self.select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.current = self.forms.setdefault(a.get("action") or "", {})
        elif self.current is not None and tag in ("input", "textarea", "button") and a.get("name"):
            self.current.setdefault(a["name"], a.get("value") or "")
        elif self.current is not None and tag == "select" and a.get("name"):
            self.select = a["name"]
        elif self.current is not None and tag == "option" and self.select:
            self.current.setdefault(self.select, a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def forms_of(html: str) -> dict[str, dict[str, str]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


class Fuzzer:
    """Sends hostile values through a Flask test client and keeps every 5xx."""

    def __init__(self, app, client, valkey):
        self.app, self.client, self.valkey = app, client, valkey
        self.failures: list[tuple] = []
        self.csrf_refused: list[tuple] = []
        self.requests = 0
        self.exceptions: list[str] = []
        self.names: dict[str, list[str]] = {}  # endpoint: the query parameters its view reads
        self.asked: set[str] = set()  # the query parameters the last request's view read
        got_request_exception.connect(lambda sender, exception, **_: self.exceptions.append(type(exception).__name__),
                                      app, weak=False)
        asked = self.asked

        class Recording(ImmutableMultiDict):
            def get(self, key, *args, **kwargs):
                asked.add(key)
                return super().get(key, *args, **kwargs)

            def __getitem__(self, key):
                asked.add(key)
                return super().__getitem__(key)

            def __contains__(self, key):
                asked.add(key)
                return super().__contains__(key)

        class RecordingRequest(app.request_class):
            parameter_storage_class = Recording

        app.request_class = RecordingRequest

    def send(self, method: str, url: str, body: str | None = None, what=()):
        for key in self.valkey.scan_iter("releve:login:*"):  # throttling would hide the code behind it
            self.valkey.delete(key)
        self.requests += 1
        self.exceptions.clear()
        self.asked.clear()
        kwargs = {"data": body, "content_type": "application/x-www-form-urlencoded"} if method == "POST" else {}
        response = self.client.open(url, method=method, **kwargs)
        response.get_data()  # read, then closed: files sent by the app are not left open
        response.close()
        # /healthz says 503 when a component is down (no worker runs here): its answer, not a crash.
        if response.status_code >= 500 and not (response.status_code == 503 and url.startswith("/healthz")):
            self.failures.append((method, url[:100], *what, response.status_code, list(self.exceptions)))
        return response

    def token(self, page: str = "/") -> str:
        html = self.client.get(page).get_data(as_text=True)
        return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)

    def sign_in(self):
        if self.client.get("/parametres").status_code != 200:
            token = self.token("/connexion")
            self.client.post("/connexion", data={"email": "alice@example.org", "password": PASSWORD, "csrf_token": token})
        assert self.client.get("/parametres").status_code == 200

    def consent_state(self) -> dict[str, str]:
        """A pending consent of this session: the callback then reads past its `state` check."""
        location = self.client.post("/compteurs/ajouter", data={"csrf_token": self.token()}).headers["Location"]
        return {"state": parse_qs(urlsplit(location).query)["state"][0]}

    def query(self, names, fuzzed=None, value=None, fresh=None) -> str:
        samples = {**SAMPLES, **(fresh() if fresh else {})}
        return "&".join(f"{n}={value if n == fuzzed else quote(samples.get(n, 'x'))}" for n in sorted(names))

    def query_names(self, path: str, fresh=None) -> list[str]:
        """The query parameters a GET of `path` reads, found by asking with valid values until none is new."""
        names: set[str] = set()
        for _ in range(5):
            self.send("GET", f"{path}?{self.query(names, fresh=fresh)}")
            if self.asked <= names:
                break
            names |= self.asked
        return sorted(names)

    def routes(self, samples: dict[str, str]):
        """Every rule of the URL map: each route parameter, then each query parameter its view reads, gets
        each hostile value (POSTs carry a valid CSRF token, so they reach the view)."""
        fresh = {"consent.callback": self.consent_state}
        for rule in self.app.url_map.iter_rules():
            for method in sorted(rule.methods & {"GET", "POST"}):
                def path(fuzzed=None, value=None):
                    out = rule.rule
                    for arg in rule.arguments:
                        out = re.sub(rf"<(?:[^:<>]+:)?{arg}>", value if arg == fuzzed else samples[arg], out)
                    return out

                names = self.query_names(path(), fresh.get(rule.endpoint)) if method == "GET" else []
                self.names.setdefault(rule.endpoint, names)
                for label, value in HOSTILE.items():
                    body = f"csrf_token={self.token()}" if method == "POST" else None
                    for arg in sorted(rule.arguments):
                        self.send(method, path(arg, value), body, what=(arg, label))
                    for name in names:
                        query = self.query(names, name, value, fresh.get(rule.endpoint))
                        self.send(method, f"{path()}?{query}", body, what=(name, label))
                if method == "POST":
                    self.sign_in()  # in case that was the logout

    def forms(self, page: str, skip=()):
        """Each field of each form of `page` in turn gets each hostile value, the others valid-looking."""
        for action, defaults in forms_of(self.client.get(page).get_data(as_text=True)).items():
            action = action or page
            if urlsplit(action).path in skip:
                continue
            for field in defaults:
                for label, value in HOSTILE.items():
                    fields = {k: v or SAMPLES.get(k, "x") for k, v in defaults.items()}
                    fields["csrf_token"] = self.token(page)
                    body = "&".join(f"{quote(k)}={value if k == field else quote(v)}" for k, v in fields.items())
                    response = self.send("POST", action, body, what=(field, label))
                    if field != "csrf_token" and response.status_code != 413 \
                            and "Formulaire expiré" in response.get_data(as_text=True):
                        self.csrf_refused.append((action, field, label))
            yield urlsplit(action).path


@pytest.fixture
def fuzz_app(settings, connection, valkey):
    from webapp import create_app

    return create_app({"RELEVE_SETTINGS": settings, "DB_BIND": connection, "TESTING": True,
                       "PROPAGATE_EXCEPTIONS": False})


@pytest.mark.timeout(600)
def test_fuzz_every_route_field_and_parameter_answers_no_5xx(fuzz_app, session, valkey, celery_app, settings):
    from models.cache import EncryptedCache
    from webapp.security import make_token

    client = fuzz_app.test_client()
    fuzzer = Fuzzer(fuzz_app, client, valkey)
    posted: set[str] = set()
    for page in ("/inscription", "/connexion", "/mot-de-passe-oublie"):  # anonymous
        posted |= set(fuzzer.forms(page))

    # Signed in, with a point and an API client, so every page reaches its data and every id exists.
    client.post("/inscription", data={"email": "alice@example.org", "password": PASSWORD, "confirm": PASSWORD,
                                      "csrf_token": fuzzer.token("/inscription")})
    alice = session.scalar(select(User).where(User.email == "alice@example.org"))
    point = UsagePoint(pdl=PDL, user_id=alice.id, kind="consumption", status="active")
    session.add(point)
    asked = TransferRequest(pdl="97000000000001", requester_id=alice.id)  # her own request: its pages exist
    session.add(asked)
    # Alice administers the gateway, so the admin area is walked too; Bob, a household, is its subject.
    alice.roles.append(session.scalar(select(Role).where(Role.name == ADMIN)))
    bob = make_user(session, "bob@example.org")
    bobs = make_point(session, bob, "97000000000002", kind="consumption")
    spare = Role(name="spare", description="", is_system=False)
    session.add(spare)
    session.commit()
    # Its contract is cached: the cost pages and the offer form have offers to show (no reading is).
    EncryptedCache.from_settings(valkey, settings).put(alice.id, "contract", {"subscribed_power_kva": 6,
                                                                              "offpeak_hours": "HC (22H00-6H00)"},
                                                        point=point.id)
    fuzzer.sign_in()
    client.post("/parametres/api", data={"name": "HA", "csrf_token": fuzzer.token()})
    with fuzz_app.test_request_context():
        reset = make_token(alice, "reset")
    samples = {"token": reset, "filename": "releve.css", "pk": str(session.scalar(select(ApiClient.id))),
               "request_id": str(asked.id), "user_id": str(bob.id), "point_id": str(bobs.id), "role_id": str(spare.id),
               "pdl": PDL}  # /api/v1/meters/<pdl>/…: without a token, a 401 (tests/webapp/test_api_v1.py fuzzes it)
    for page in ("/parametres", f"/nouveau-mot-de-passe/{reset}", "/compteurs/ajouter",
                 "/parametres/offres/nouvelle?type=TEMPO", f"/admin/utilisateurs/{bob.id}", "/admin/roles",
                 f"/admin/roles/{spare.id}", f"/admin/compteurs/{bobs.id}", "/admin/tempo",
                 f"/parametres/offre?pdl={PDL}", f"/simulateur?pdl={PDL}"):
        fuzzer.sign_in()
        posted |= set(fuzzer.forms(page, skip=posted | {"/deconnexion"}))
    fuzzer.routes(samples)

    assert fuzzer.failures == [], "\n".join(map(str, fuzzer.failures))
    assert fuzzer.csrf_refused == []  # the POSTs reached the forms' validation, not only the CSRF check
    assert {"/inscription", "/connexion", "/parametres", "/parametres/api", "/compteurs/ajouter",
            "/parametres/offres/nouvelle", "/parametres/offre", "/simulateur"} <= posted
    assert {f"/admin/utilisateurs/{bob.id}/supprimer", f"/admin/utilisateurs/{bob.id}/role", "/admin/roles/nouveau",
            f"/admin/roles/{spare.id}", f"/admin/compteurs/{bobs.id}/retirer", "/admin/tempo/corriger"} <= posted
    read = {name for names in fuzzer.names.values() for name in names}
    assert {"next", "state", "error", "usage_point_id", "pdl", "jour", "vue", "conso", "prod", "mois",
            "comparer"} <= read
    assert {"q", "role", "etat", "page", "acteur", "action", "cible", "du", "au", "saison"} <= read  # the admin's
    assert {"costs.costs", "costs.costs_json", "costs.simulator", "costs.simulator_json",
            "account.meter_offer"} <= set(fuzzer.names)
    assert fuzzer.requests > 300
