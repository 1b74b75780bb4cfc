"""A wheel of pilotgate carries everything it needs: installed into a fresh virtualenv outside
the checkout, it answers `pilotgate --help`, migrates a register, renders a sign-off request
from its Slack templates and writes the HTML report from its report templates.

The wheel is built from a copy of the files git knows or would add (the checkout stays
clean). The fresh venv borrows the third-party dependencies of the test's own environment
through a path entry (the editable install of pilotgate there is not activated: `.pth` files
of a borrowed path are not processed), so every pilotgate module it imports comes from the
wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "pilotgate",
    "config",
    "lifecycle",
    "store",
    "slack_out",
    "slack_in",
    "tasks",
    "flows",
    "deployments",
    "web",
    "slackemu",
)


def _run(*args: str | Path, cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("wheel")
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    src = tmp / "src"
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PILOTGATE_", "SLACK_"))}
    env.pop("PYTHONPATH", None)
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        tmp / "dist",
        src,
        cwd=tmp,
        env=env,
    )
    wheel = next((tmp / "dist").glob("pilotgate-*.whl"))

    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp, env=env)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            python,
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=tmp,
            env=env,
        ).strip()
    )
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "-q",
        wheel,
        cwd=tmp,
        env=env,
    )
    return venv, env


def test_the_wheel_holds_every_package_and_its_templates(
    installed: tuple[Path, dict[str, str]],
) -> None:
    venv, env = installed
    code = "import importlib, json\n" + (
        f"print(json.dumps({{p: importlib.import_module(p).__file__ for p in {PACKAGES!r}}}))"
    )
    files = json.loads(_run(venv / "bin" / "python", "-c", code, cwd=venv, env=env))
    for package, path in files.items():
        assert Path(path).is_relative_to(venv), f"{package} came from {path}, not the wheel"
    site = Path(files["pilotgate"]).parent.parent
    templates = {p.name for p in (site / "slack_out" / "templates").glob("*.j2")}
    assert {"reject_modal.json.j2", "signoff_request.json.j2"} <= templates
    assert (site / "pilotgate" / "report" / "templates" / "report.html.j2").is_file()
    assert (site / "store" / "migrations" / "versions" / "0001_initial_schema.py").is_file()
    assert (site / "store" / "migrations" / "versions" / "0004_policy_stamps.py").is_file()


def test_help_runs_from_the_installed_console_script(
    installed: tuple[Path, dict[str, str]],
) -> None:
    venv, env = installed
    out = _run(venv / "bin" / "pilotgate", "--help", cwd=venv, env=env)
    for command in ("propose", "advance", "status", "sweep", "serve", "report"):
        assert command in out


def test_the_installed_package_renders_an_ask_and_writes_the_report(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, env = installed
    title = "Help-desk <assistant> & co"
    script = textwrap.dedent(
        f"""
        import json
        from datetime import UTC, datetime, timedelta
        from lifecycle.gates import plan_gate
        from lifecycle.policy import load_policy
        from lifecycle.proposal import load_proposal
        from lifecycle.stages import Stage
        from pilotgate.report import build_report, write_html
        from slack_out import messages
        from store import gates, outbox, pilots
        from store.db import Database
        from store.migrate import upgrade

        url = "sqlite:///{tmp_path / "register.db"}"
        upgrade(url)
        db = Database(url)
        policy = load_policy({str(ROOT / "examples" / "policy.yaml")!r})
        proposal = load_proposal({str(ROOT / "examples" / "helpdesk-assistant.yaml")!r})
        proposal = proposal.model_copy(update={{"title": {title!r}}})
        now = datetime.now(UTC)
        with db.session() as session:
            pilot = pilots.create_pilot(session, proposal, policy, actor="test", now=now)
            plan = plan_gate(policy, proposal, Stage.PROPOSAL, Stage.PILOT)
            gate = gates.open_gate(session, pilot.id, plan, deadline=now + timedelta(days=7),
                                   escalation_role=None, now=now, actor="test")
            request = gates.requests_for(session, gate.id)[0]
            messages.ask(session, pilot, gate, request, now, policy=policy)
            row = outbox.due_outbox(session, now)[0]
            data = build_report(session, policy, now)
        write_html({str(tmp_path / "report.html")!r}, data)
        print(json.dumps(row.payload))
        """
    )
    payload = json.loads(_run(venv / "bin" / "python", "-c", script, cwd=tmp_path, env=env))
    assert isinstance(payload["user"], str) and payload["user"].startswith("U")
    header = payload["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"].startswith(title)
    assert {"pilotgate_approve", "pilotgate_reject"} <= {
        e.get("action_id") for b in payload["blocks"] for e in b.get("elements", [])
    }
    html = (tmp_path / "report.html").read_text()
    assert "Help-desk &lt;assistant&gt; &amp; co" in html and "<assistant>" not in html
