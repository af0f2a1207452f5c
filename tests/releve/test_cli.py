"""The `releve` command, run as a real process."""

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from models import User

RELEVE = str(Path(sys.executable).parent / "releve")


def run(args, env, **kwargs):
    return subprocess.run([RELEVE, *args], env=env, capture_output=True, text=True, timeout=120, **kwargs)


def test_check_reports_each_service(env_for):
    result = run(["check"], env_for())
    assert result.returncode == 0, result.stderr
    assert "ok   PostgreSQL: server" in result.stdout
    assert "ok   Valkey: server" in result.stdout
    assert "All checks passed." in result.stdout
    assert "ok   RELEVE_MASTER_KEY: set (version 1)" in result.stdout


def test_check_says_which_master_key_versions_are_configured(env_for):
    from releve import embedded

    env = env_for()
    env.update(RELEVE_MASTER_KEY=f"3:{embedded.new_master_key()}",
               RELEVE_MASTER_KEY_PREVIOUS=f"{env['RELEVE_MASTER_KEY']},2:{embedded.new_master_key()}")
    result = run(["check"], env)
    assert result.returncode == 0, result.stderr
    assert "ok   RELEVE_MASTER_KEY: set (version 3; previous: 1, 2)" in result.stdout
    assert env["RELEVE_MASTER_KEY"][2:] not in result.stdout + result.stderr


def test_check_names_an_unreachable_database_without_traceback(env_for):
    result = run(["check"], env_for(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nope"))
    assert result.returncode == 1
    assert "FAIL PostgreSQL:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_database_url_is_one_clear_line(env_for):
    result = run(["db", "upgrade"], env_for(DATABASE_URL="mysql://root@localhost/releve"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DATABASE_URL: expected a URL starting with postgresql+psycopg://, got 'mysql://root@localhost/releve'"
    ]


def test_unreachable_database_is_one_clear_line(env_for):
    result = run(["db", "upgrade"], env_for(DATABASE_URL="postgresql://postgres@127.0.0.1:1/releve"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Database error (DATABASE_URL): ")
    assert "Traceback" not in result.stderr


def test_production_without_master_key_is_one_clear_line(env_for):
    env = env_for(RELEVE_ENV="production", ENEDIS_CLIENT_ID="a", ENEDIS_CLIENT_SECRET="b",
                  ENEDIS_REDIRECT_URI="https://x.example/cb", RTE_CLIENT_ID="c", RTE_CLIENT_SECRET="d",
                  PUBLIC_URL="https://x.example")
    del env["RELEVE_MASTER_KEY"]
    for command in (["web"], ["worker"], ["db", "upgrade"]):
        result = run(command, env)
        assert result.returncode == 2, command
        assert result.stderr.strip().splitlines() == [
            "Configuration error: RELEVE_MASTER_KEY: is required when RELEVE_ENV=production"
        ], command


def test_db_upgrade_and_create_admin(env_for, engine):
    env = env_for()
    assert run(["db", "upgrade"], env).stdout.strip() == "Database is up to date."
    email = "Root@Example.org"
    result = run(["create-admin", email], env)
    assert result.returncode == 0, result.stderr
    password = result.stdout.split(" / ")[1].split()[0]
    from sqlalchemy.orm import Session

    from models.permissions import PERMISSIONS

    with Session(engine) as session:
        user = session.scalar(select(User).where(User.email == "root@example.org"))
        try:
            assert user.check_password(password)
            assert user.permission_codes() == set(PERMISSIONS)
        finally:
            session.delete(user)  # this test commits through a real process: clean up
            session.commit()


def test_create_admin_rejects_a_non_email(env_for):
    result = run(["create-admin", "not-an-email"], env_for())
    assert result.returncode == 2
    assert "is not an email address" in result.stderr
    assert "Traceback" not in result.stderr


def test_gen_key_is_a_valid_master_key():
    from models.settings import decode_master_key

    result = subprocess.run([RELEVE, "gen-key"], capture_output=True, text=True, timeout=30)
    assert len(decode_master_key(result.stdout.strip())) == 32


def test_dev_outbox_mails_are_shown_decoded(tmp_path):
    from models.settings import Settings
    from releve.cli import describe_mail
    from pipeline.mail import deliver

    settings = Settings(mail_outbox_dir=str(tmp_path))
    deliver(settings, "zoé@example.org", "Relevé : confirmez votre adresse e-mail", "Bonjour,\n\nCliquez ici.\n")
    [path] = tmp_path.glob("*.eml")
    lines = describe_mail(path)
    assert lines[0] == "To: zoé@example.org  Subject: Relevé : confirmez votre adresse e-mail"
    assert lines[1:] == ["Bonjour,", "", "Cliquez ici."]


def test_outbox_mails_are_readable_by_their_owner_only(tmp_path):
    from models.settings import Settings
    from pipeline.mail import deliver

    outbox = tmp_path / "outbox"
    deliver(Settings(mail_outbox_dir=str(outbox)), "zoe@example.org", "Lien", "https://x/verifier/jeton\n")
    [path] = outbox.glob("*.eml")
    assert path.stat().st_mode & 0o777 == 0o600
    assert outbox.stat().st_mode & 0o777 == 0o700


def test_no_outbox_in_production(tmp_path):
    from models.settings import ConfigError, Settings
    from pipeline.mail import deliver

    settings = Settings(mode="production", mail_outbox_dir=str(tmp_path / "outbox"))
    with pytest.raises(ConfigError) as raised:
        deliver(settings, "zoe@example.org", "Lien", "https://x/nouveau-mot-de-passe/jeton\n")
    assert raised.value.variable == "SMTP_HOST"
    assert not (tmp_path / "outbox").exists()


@pytest.mark.parametrize("mode", ["development", "production"])
def test_the_outbox_is_printed_in_development_only(tmp_path, mode, wait_until):
    import io
    import threading

    from models.settings import Settings
    from releve.cli import print_outbox
    from releve.supervisor import Supervisor
    from pipeline.mail import deliver

    outbox = tmp_path / "outbox"
    out, stop = io.StringIO(), threading.Event()
    printer = threading.Thread(target=print_outbox, args=(Settings(mode=mode, mail_outbox_dir=str(outbox)),
                                                          Supervisor(out=out), stop))

    def mail_shown():  # a mail lands there (sent as in development: production's deliver() refuses)
        deliver(Settings(mail_outbox_dir=str(outbox)), "zoe@example.org", "Lien", "https://x/verifier/jeton\n")
        return "verifier/jeton" in out.getvalue()

    printer.start()
    try:
        if mode == "production":
            printer.join(timeout=30)
            assert not printer.is_alive()  # refused at once, watching nothing
        if mode == "development":  # mails written before the printer looked are old ones: send until one shows
            wait_until(mail_shown, timeout=60, interval=1.0)
        else:
            assert not mail_shown()
    finally:
        stop.set()
        printer.join(timeout=30)
    assert ("verifier/jeton" in out.getvalue()) == (mode == "development")
