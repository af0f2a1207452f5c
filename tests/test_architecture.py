"""The one direction of imports: webapp → pipeline → models; the sandbox imports none of them."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "models": {"pipeline", "webapp", "releve", "sandbox"},
    "pipeline": {"webapp", "releve", "sandbox"},
    "webapp": {"releve", "sandbox"},
    "sandbox": {"models", "pipeline", "webapp", "releve"},
}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package):
    wrong = {str(p.relative_to(ROOT)): sorted(imported_packages(p) & FORBIDDEN[package])
             for p in (ROOT / package).rglob("*.py")}
    assert {path: names for path, names in wrong.items() if names} == {}


# The suite's shared fixtures live once, in tests/fixtures/: a module changes them through
# `sandbox_config`, `settings_env` or `app_commits`, never by defining its own copy.
SHARED_FIXTURES = {"database_url", "connection", "session", "valkey", "settings", "test_env", "celery_app", "spawn",
                   "sandbox", "sandbox_server", "app", "client", "auth", "mails", "outbox", "accounts"}


def fixtures_defined(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if ast.unparse(target) == "pytest.fixture":
                    name = next((k.value.value for k in getattr(decorator, "keywords", [])
                                 if k.arg == "name" and isinstance(k.value, ast.Constant)), node.name)
                    names.add(name)
    return names


def test_shared_fixtures_are_defined_once_and_conftest_is_never_imported():
    tests = ROOT / "tests"
    copies = {str(p.relative_to(ROOT)): sorted(fixtures_defined(p) & SHARED_FIXTURES)
              for p in tests.rglob("*.py") if "fixtures" not in p.relative_to(tests).parts}
    assert {path: names for path, names in copies.items() if names} == {}
    hacks = [str(p.relative_to(ROOT)) for p in tests.rglob("*.py") if p != Path(__file__).resolve()
             and ("conftest" in imported_packages(p) or "sys.path.insert" in p.read_text())]
    assert hacks == []
