"""README's first screen gives the two commands, and CI runs the test one."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def first_screen() -> str:
    return "\n".join(REPO.joinpath("README.md").read_text().splitlines()[:40])


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
