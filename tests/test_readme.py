"""README's first screen gives the two commands, CI runs the test one, and both scripts work
as the README says; its tables and command lines name every setting and option."""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from connector.cli import build_parser

REPO = Path(__file__).resolve().parent.parent


def first_screen() -> str:
    return "\n".join(REPO.joinpath("README.md").read_text().splitlines()[:40])


def section(title: str) -> str:
    """The README's section `## title` (or `### title`), up to the next heading of its level or above."""
    text = REPO.joinpath("README.md").read_text()
    heading = re.search(rf"^(#+) {re.escape(title)}$", text, re.M)
    assert heading, title
    body = text[heading.end():]
    end = re.search(rf"^#{{1,{len(heading.group(1))}}} ", body, re.M)
    return body[:end.start()] if end else body


def test_first_screen_has_the_run_and_test_commands():
    screen = first_screen()
    assert "scripts/serve.sh" in screen and "scripts/test.sh" in screen


def test_ci_runs_the_readme_test_command():
    ci = REPO.joinpath(".ci/run").read_text()
    assert "bash scripts/test.sh" in ci


def test_every_documented_setting_exists():
    from connector.settings import Settings
    readme = REPO.joinpath("README.md").read_text()
    names = {name.upper() for name in Settings.model_fields}
    documented = {name for name in names if f"`{name}`" in readme}
    assert documented == names, sorted(names - documented)


def test_the_configuration_table_names_the_images_own_variables():
    # PORT and WEB_CONCURRENCY are read by the image's command, not by the settings.
    table = section("Configuration")
    for name in ("PORT", "WEB_CONCURRENCY"):
        assert re.search(rf"^\|[^|]*`{name}`[^|]*\|", table, re.M), name  # in a row's first cell
        assert re.search(rf"ENV .*\b{name}=", REPO.joinpath("Dockerfile").read_text().replace("\\\n", " ")), name


def _subcommands(parser):
    for action in parser._subparsers._group_actions:
        for name, subparser in action.choices.items():
            if subparser._subparsers is not None:
                yield from ((f"{name} {inner}", p) for inner, p in _subcommands(subparser))
            else:
                yield name, subparser


def test_commands_name_every_option_of_every_command():
    # Before: --api-key, --secret, --interview-id and --profile were missing.
    commands = section("Commands")
    lines = [line for line in commands.splitlines() if line.startswith("connector ")]
    for name, parser in _subcommands(build_parser()):
        [line] = [line for line in lines if line.startswith(f"connector {name} ")]
        options = {option for action in parser._actions for option in action.option_strings
                   if option.startswith("--") and option != "--help"}
        assert options and all(option in line for option in options), (name, sorted(options))


# -- scripts/serve.sh and scripts/test.sh, on a copy of the repository with a fake venv -----

FAKE_PYTHON = textwrap.dedent("""\
    #!/bin/sh
    # The venv's python: pip and pytest are logged, everything else is the real Python.
    case "$1 $2" in
      "-m pip")
        echo "pip $*" >> "$SCRIPT_LOG"
        printf '#!/bin/sh\\necho "connector $*" >> "$SCRIPT_LOG"\\n' > "$(dirname "$0")/connector"
        chmod +x "$(dirname "$0")/connector"
        exit 0;;
      "-m pytest")
        echo "pytest $0 PATH=$PATH CONNECTOR_PYTHON=$CONNECTOR_PYTHON" >> "$SCRIPT_LOG"
        exit 0;;
    esac
    exec {real} "$@"
    """).format(real=sys.executable)
FAKE_PYTHON3 = textwrap.dedent("""\
    #!/bin/sh
    # python3 of a fresh machine: `-m venv DIR` makes a venv holding the fake python only.
    if [ "$1 $2" = "-m venv" ]; then
      echo "venv $3" >> "$SCRIPT_LOG"
      mkdir -p "$3/bin" && cp "$FAKE_PYTHON" "$3/bin/python" && exit 0
    fi
    exit 99
    """)


class Checkout:
    """A copy of the scripts, pyproject.toml and constraints.txt, run with a fake python3 and venv."""

    def __init__(self, root: Path):
        self.root, self.log = root / "repo", root / "log"
        (self.root / "scripts").mkdir(parents=True)
        for script in ("serve.sh", "test.sh"):
            shutil.copy(REPO / "scripts" / script, self.root / "scripts" / script)
        (self.root / "scripts" / "install-n8n.sh").write_text("echo /nonexistent/n8n\n")
        shutil.copy(REPO / "pyproject.toml", self.root / "pyproject.toml")
        shutil.copy(REPO / "constraints.txt", self.root / "constraints.txt")
        tools = root / "tools"
        tools.mkdir()
        self.fake_python = root / "fake-python"
        self.fake_python.write_text(FAKE_PYTHON)
        (tools / "python3").write_text(FAKE_PYTHON3)
        for path in (self.fake_python, tools / "python3"):
            path.chmod(0o755)
        self.env = {**os.environ, "SCRIPT_LOG": str(self.log), "FAKE_PYTHON": str(self.fake_python),
                    "SKIP_ZAPIER": "1", "PATH": f"{tools}:/usr/bin:/bin"}
        self.env.pop("VENV", None)

    def run(self, script: str, *args: str, venv: str | None = None) -> list[str]:
        """The lines the run logged (venv made, pip, connector, pytest)."""
        self.log.write_text("")
        env = {**self.env, **({"VENV": venv} if venv else {})}
        done = subprocess.run(["bash", str(self.root / "scripts" / script), *args], env=env,
                              capture_output=True, text=True, timeout=60, cwd="/")
        assert done.returncode == 0, done.stderr
        return self.log.read_text().splitlines()


@pytest.fixture
def checkout(tmp_path) -> Checkout:
    return Checkout(tmp_path)


def installs(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("pip ")]


@pytest.mark.parametrize("changed", ["pyproject.toml", "constraints.txt"])
def test_serve_installs_on_a_fresh_machine_then_only_when_pyproject_or_the_pins_change(checkout, changed):
    # Before: `pip install -e .` on every start, which needs the package index every time.
    first = checkout.run("serve.sh", "--port", "9000")
    assert first[0] == "venv .venv" and len(installs(first)) == 1
    assert first[-1] == "connector serve --port 9000"
    again = checkout.run("serve.sh")
    assert installs(again) == [] and again == ["connector serve"]
    with open(checkout.root / changed, "a") as edited:
        edited.write("\n# a new dependency or version, say\n")
    assert len(installs(checkout.run("serve.sh"))) == 1
    assert installs(checkout.run("serve.sh")) == []


def test_test_sh_installs_the_test_extras_once_and_serve_then_needs_nothing(checkout):
    assert installs(checkout.run("serve.sh")) == ["pip -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ."]
    # serve's install lacks the test extras: test.sh installs once, and both are content after.
    assert installs(checkout.run("test.sh")) == ["pip -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .[test]"]
    assert installs(checkout.run("test.sh")) == []
    assert installs(checkout.run("serve.sh")) == []


def test_a_venv_without_the_connector_is_installed_into_whatever_the_stamp_says(checkout):
    checkout.run("serve.sh")
    (checkout.root / ".venv" / "bin" / "connector").unlink()  # `pip uninstall`, a venv half made
    assert len(installs(checkout.run("serve.sh"))) == 1


@pytest.mark.parametrize("script", ["serve.sh", "test.sh"])
def test_an_absolute_venv_path_is_used_as_it_is(checkout, tmp_path, script):
    # Before: test.sh put "$PWD/$VENV/bin" on PATH, /repo//tmp/venv/bin, and ran another python.
    venv = tmp_path / "elsewhere" / "venv"
    lines = checkout.run(script, venv=str(venv))
    assert lines[0] == f"venv {venv}" and (venv / ".connector-install").exists()
    assert not (checkout.root / ".venv").exists()
    if script == "test.sh":
        [pytest_line] = [line for line in lines if line.startswith("pytest ")]
        assert pytest_line.startswith(f"pytest {venv}/bin/python PATH={venv}/bin:")
        assert pytest_line.endswith(f"CONNECTOR_PYTHON={venv}/bin/python")


def test_a_relative_venv_path_is_taken_from_the_repository(checkout):
    lines = checkout.run("test.sh", venv="build/venv")
    venv = checkout.root / "build" / "venv"
    [pytest_line] = [line for line in lines if line.startswith("pytest ")]
    assert pytest_line.startswith(f"pytest {venv}/bin/python PATH={venv}/bin:")
