"""The built wheel is the whole gateway: installed away from the repository, it migrates a database."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture
def empty_database(database_url):
    """A database with nothing in it, on the test server, dropped afterwards."""
    name = f"releve_wheel_{os.getpid()}"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def test_an_installed_wheel_upgrades_a_database_and_checks(tmp_path, empty_database, env_for):
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"), str(REPO)])
    (wheel,) = (tmp_path / "dist").glob("releve-*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
         str(wheel)])
    # The dependencies come from the test environment's site-packages, added as a plain path: its .pth files
    # (the editable install of this repository among them) are not processed, so the code is the wheel's.
    site = Path(run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                    ).stdout.strip())
    (site / "releve_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    where = run([str(venv / "bin" / "python"), "-c", "import migrations, models, releve; print(migrations.__file__)"],
                cwd=tmp_path).stdout
    assert where.startswith(str(site))

    env = env_for(DATABASE_URL=empty_database)
    upgraded = run([str(venv / "bin" / "releve"), "db", "upgrade"], cwd=tmp_path, env=env)
    assert "Database is up to date." in upgraded.stdout
    checked = run([str(venv / "bin" / "releve"), "check"], cwd=tmp_path, env=env)
    assert "All checks passed." in checked.stdout
    engine = create_engine(empty_database)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        roles = conn.execute(text("SELECT count(*) FROM roles")).scalar()
        prices = conn.execute(text("SELECT count(*) FROM offer_prices")).scalar()  # the catalogue, from package data
    engine.dispose()
    assert prices == 102 and "Offer catalogue: 110 added" in upgraded.stdout
    heads = run([sys.executable, "-c", "from alembic.script import ScriptDirectory; from releve.cli import "
                 "alembic_config; print(*ScriptDirectory.from_config(alembic_config()).get_heads())"]).stdout.split()
    assert [version] == heads and roles >= 1
