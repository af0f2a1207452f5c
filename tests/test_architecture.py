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
