"""The read commands answer at once: none of them imports Prefect (about 2 s) or slack-bolt.

Each runs in a fresh interpreter, as the console script runs it, against a migrated SQLite
register with a pilot and a metric observation; what the process imported is read from
`sys.modules` when it exits, so an import made late inside a command counts too.
"""

from __future__ import annotations

import pytest
from cli_harness import EXAMPLES_DIR, Cli
from process_harness import run_cli

READ_COMMANDS = [
    ("--help",),
    ("list",),
    ("list", "--json"),
    ("status", "{pilot}"),
    ("status", "{pilot}", "--json"),
    ("metric", "show", "{pilot}"),
    ("audit", "verify"),
    ("report", "--html", "report.html"),
]


@pytest.fixture
def register(migrated: Cli) -> tuple[Cli, str]:
    proposed = migrated.run("propose", str(EXAMPLES_DIR / "helpdesk-assistant.yaml"))
    assert proposed.exit_code == 0, proposed.stderr
    pilot = proposed.stdout.strip()
    recorded = migrated.run("metric", "record", pilot, "resolution_minutes", "1.5")
    assert recorded.exit_code == 0, recorded.stderr
    return migrated, pilot


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c))
def test_a_read_command_never_imports_prefect(
    register: tuple[Cli, str], command: tuple[str, ...]
) -> None:
    cli, pilot = register
    args = [a.format(pilot=pilot) for a in command]
    run = run_cli(cli.env, cli.tmp, *args)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.stdout.strip(), "the command printed nothing"
    assert "prefect" not in run.loaded, f"`pilotgate {' '.join(args)}` imported Prefect"
    assert "slack_bolt" not in run.loaded, f"`pilotgate {' '.join(args)}` imported slack-bolt"
    assert "slack_sdk" not in run.loaded, f"`pilotgate {' '.join(args)}` imported slack_sdk"


#: What the start-up commands (the ones people run to look) may not load, besides Prefect and
#: Slack: Alembic is for migrating (the schema check reads its table with SQLAlchemy), and the
#: report's templates and charts are for `pilotgate report`.
STARTUP_COMMANDS = [("--help",), ("list",), ("status", "{pilot}")]
NOT_AT_STARTUP = {"prefect", "slack_bolt", "slack_sdk", "alembic", "pilotgate.report"}


@pytest.mark.parametrize("command", STARTUP_COMMANDS, ids=lambda c: " ".join(c))
def test_the_startup_commands_load_only_what_they_use(
    register: tuple[Cli, str], command: tuple[str, ...]
) -> None:
    cli, pilot = register
    args = [a.format(pilot=pilot) for a in command]
    run = run_cli(cli.env, cli.tmp, *args)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.stdout.strip(), "the command printed nothing"
    assert not run.loaded & NOT_AT_STARTUP, (
        f"`pilotgate {' '.join(args)}` loaded {sorted(run.loaded & NOT_AT_STARTUP)}"
    )


def test_the_report_still_loads_what_it_needs(register: tuple[Cli, str]) -> None:
    """The other side of deferring: the command that needs the report's code does load it."""
    cli, _ = register
    run = run_cli(cli.env, cli.tmp, "report", "--html", "report.html")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "pilotgate.report" in run.loaded
    assert (cli.tmp / "report.html").read_text().strip()


#: What `pilotgate --help` never needs: typer builds the command tree from modules that import
#: only typer and rich at the top; SQLAlchemy, pydantic, the policy's YAML and the templates
#: load inside the commands that use them.
NOT_FOR_HELP = {"sqlalchemy", "pydantic", "pydantic_settings", "yaml", "jinja2"}


def test_help_loads_no_database_model_or_template_library(register: tuple[Cli, str]) -> None:
    cli, _ = register
    run = run_cli(cli.env, cli.tmp, "--help")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "Commands" in run.stdout and "status" in run.stdout
    assert not run.loaded & NOT_FOR_HELP, f"`pilotgate --help` loaded {sorted(run.loaded)}"


@pytest.mark.parametrize("command", [("advance", "--help"), ("metric", "record", "--help")])
def test_a_commands_help_loads_no_database(
    register: tuple[Cli, str], command: tuple[str, ...]
) -> None:
    cli, _ = register
    run = run_cli(cli.env, cli.tmp, *command)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "Usage" in run.stdout
    assert "sqlalchemy" not in run.loaded, f"`pilotgate {' '.join(command)}` loaded SQLAlchemy"


@pytest.mark.parametrize("command", STARTUP_COMMANDS[1:], ids=lambda c: " ".join(c))
def test_a_sqlite_register_never_loads_the_postgresql_dialect(
    register: tuple[Cli, str], command: tuple[str, ...]
) -> None:
    """The live-request index declares PostgreSQL's `where` only when PostgreSQL creates the
    table (store.models): declared outright, SQLAlchemy imports its PostgreSQL dialect."""
    cli, pilot = register
    assert cli.url.startswith("sqlite")
    run = run_cli(cli.env, cli.tmp, *[a.format(pilot=pilot) for a in command])
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "sqlalchemy" in run.loaded  # the check below can fail: the register was read
    assert "sqlalchemy.dialects.postgresql" not in run.loaded
