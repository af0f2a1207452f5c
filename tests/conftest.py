"""The suite's fixtures live in plugins (tests/fixtures/); tests/ is on the import path
(`pythonpath` in pyproject.toml), so `tests_helpers` and `factories` import as top-level modules.

`process_guard` makes sure no process a test starts outlives the run.
"""

pytest_plugins = [
    "process_guard",
    "fixtures.servers",
    "fixtures.upstream",
    "fixtures.web",
    "fixtures.accounts",
]
