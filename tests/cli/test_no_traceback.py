"""Never a traceback: each input that used to crash a command now ends with its documented exit
code and one plain line on stderr, through the real console script (its own process)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_harness import CONSOLE_SCRIPT, EXAMPLES_DIR, Cli


def run(cli: Cli, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args],
        env={**cli.env, **env},
        cwd=cli.tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def latin1(cli: Cli, name: str, source: Path) -> Path:
    path = cli.tmp / name
    path.write_bytes(("# caf\u00e9\n" + source.read_text()).encode("latin-1", "replace"))
    return path


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_a_proposal_that_is_not_utf8(migrated: Cli) -> None:
    path = latin1(migrated, "latin1.yaml", EXAMPLES_DIR / "helpdesk-assistant.yaml")
    done = run(migrated, "propose", str(path))
    assert done.returncode == 2
    assert "not UTF-8 text" in one_line_error(done)
    assert migrated.written() == (0, 0, 0)


def test_a_policy_that_is_not_utf8(cli: Cli) -> None:
    path = latin1(cli, "policy.yaml", EXAMPLES_DIR / "policy.yaml")
    done = run(cli, "policy", "check", str(path))
    assert done.returncode == 2
    assert "not UTF-8 text" in one_line_error(done)


def test_db_upgrade_against_an_unreachable_database_is_exit_5(cli: Cli) -> None:
    done = run(
        cli,
        "db",
        "upgrade",
        PILOTGATE_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing",
    )
    assert done.returncode == 5
    assert "the database is unreachable" in one_line_error(done)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://root@localhost/pilotgate", "mysql is not supported"),
        ("pilotgate.db", "not a database URL"),
        ("postgresql://postgres@127.0.0.1/test", "say the driver"),
    ],
)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["list"]])
def test_an_unsupported_database_url_is_exit_2(
    cli: Cli, url: str, said: str, command: list[str]
) -> None:
    done = run(cli, *command, PILOTGATE_DATABASE_URL=url)
    assert done.returncode == 2
    line = one_line_error(done)
    assert "PILOTGATE_DATABASE_URL" in line and said in line
    assert "sqlite:///PATH or postgresql+psycopg://" in line


def test_report_html_pointing_at_a_directory_is_exit_2(migrated: Cli) -> None:
    (migrated.tmp / "out").mkdir()
    done = run(migrated, "report", "--html", str(migrated.tmp / "out"))
    assert done.returncode == 2
    assert "--html: cannot write" in one_line_error(done)
