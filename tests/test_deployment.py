"""Procfile and docker-compose.yml run real `releve` commands that exist and parse."""

import shlex

import click
import yaml
from click.testing import CliRunner

from releve.cli import REPO_ROOT, cli


def parses(argv: list[str]) -> None:
    """Fail unless `releve argv…` names a command and options that click accepts (nothing runs)."""
    assert argv[0] == "releve", argv
    args, command = list(argv[1:]), cli
    while isinstance(command, click.Group):
        command = command.get_command(None, args.pop(0))
        assert command is not None, f"unknown command: {argv}"
    command.make_context(command.name, args)  # raises UsageError on an unknown option


def procfile() -> dict[str, list[str]]:
    lines = (REPO_ROOT / "Procfile").read_text().splitlines()
    return {name: shlex.split(cmd.replace("${PORT:-8000}", "8000").replace("${FLOWER_PORT:-5555}", "5555"))
            for name, cmd in (line.split(":", 1) for line in lines if line.strip())}


def test_procfile_has_every_process_and_valid_commands():
    procs = procfile()
    assert set(procs) == {"release", "web", "worker", "interactive", "beat", "flower"}
    queues = {name: argv[argv.index("--queues") + 1].split(",") for name, argv in procs.items() if "--queues" in argv}
    assert "interactive" in queues["interactive"] and "interactive" not in queues["worker"]
    assert procs["release"] == ["releve", "db", "upgrade"]
    for argv in procs.values():
        parses(argv)


def test_compose_services_and_commands():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "valkey", "migrate", "web", "worker", "worker-interactive", "beat",
                             "flower"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["valkey"]["image"] == "valkey/valkey:8"
    assert set(compose["volumes"]) == {"postgres-data", "valkey-data"}
    for name in ("postgres", "valkey", "web", "worker", "worker-interactive", "flower"):
        assert "healthcheck" in services[name], name
    for name in ("worker", "worker-interactive"):  # the health check reads the file the worker keeps
        command = services[name]["command"]
        alive = command[command.index("--alive-file") + 1]
        assert services[name]["healthcheck"]["test"] == ["CMD", "releve", "worker-alive", "--alive-file", alive]
        parses(services[name]["healthcheck"]["test"][1:])
    for name in ("migrate", "web", "worker", "worker-interactive", "beat", "flower"):
        parses(services[name]["command"])
        assert services[name]["environment"]["RELEVE_ENV"] == "production"
    assert services["migrate"]["command"] == ["releve", "db", "upgrade"]
    # web's container health is liveness: a dependency that is down is /healthz's to report
    assert "/livez" in services["web"]["healthcheck"]["test"][-1]
    # Flower's /healthcheck is behind its basic auth: the check sends it
    flower_check = services["flower"]["healthcheck"]["test"][-1]
    assert "/healthcheck" in flower_check and "FLOWER_BASIC_AUTH" in flower_check and "Authorization" in flower_check
    # Application services wait for the migration; the migration only for PostgreSQL.
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "migrate" not in services["migrate"]["depends_on"]


def test_help_of_every_command_runs():
    runner = CliRunner()
    for args in (["--help"], ["dev", "--help"], ["db", "upgrade", "--help"], ["check", "--help"], ["sandbox", "--help"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0 and "Usage:" in result.output, args


def test_deployed_workers_read_declared_queues_and_together_all_of_them():
    from pipeline.queues import ALL

    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    for pools in ([argv for argv in procfile().values() if "--queues" in argv],
                  [s["command"] for s in compose.values() if "--queues" in s.get("command", [])]):
        read = [q for argv in pools for q in argv[argv.index("--queues") + 1].split(",")]
        assert set(read) == set(ALL)
