"""Dockerfile, .dockerignore and docker-compose.yml, checked without a Docker engine.

They must parse, and ports, environment and versions must agree with each other, with
the connector's settings, with the pinned n8n and with the docs (n8n-workflows/README.md).
"""
from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from connector.settings import Settings

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "n8n-workflows" / "koji-salesforce-slack.json"


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    pairs = [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]
    return [(op.upper(), rest) for op, rest in pairs]


def instructions(name: str) -> list[str]:
    return [rest for op, rest in dockerfile() if op == name]


def env_of_dockerfile() -> dict[str, str]:
    env = {}
    for rest in instructions("ENV"):
        for token in shlex.split(rest):
            key, _, value = token.partition("=")
            env[key] = value
    return env


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def dockerignored(path: str) -> bool:
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    return any(fnmatch.fnmatch(path, p.lstrip("/")) or path.startswith(p.rstrip("/") + "/")
               for p in patterns)


def test_dockerfile_base_image_satisfies_requires_python():
    [base] = instructions("FROM")
    version = re.match(r"python:(\d+)\.(\d+)", base)
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(n) for n in re.search(r">=\s*(\d+)\.(\d+)", requires).groups())
    assert version and tuple(map(int, version.groups())) >= minimum


def test_everything_the_dockerfile_copies_exists_and_is_not_dockerignored():
    sources = [src for rest in instructions("COPY") for src in shlex.split(rest)[:-1]]
    assert "connector" in sources and "pyproject.toml" in sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not dockerignored(source), source


def test_dockerignore_keeps_secrets_state_and_bulk_out():
    for path in (".git/config", ".env", "connector-state.sqlite3", "node_modules/x", "tests/live.py"):
        assert dockerignored(path), path


def test_image_runs_the_connector_cli_unprivileged_on_the_exposed_port():
    env = env_of_dockerfile()
    [exposed] = instructions("EXPOSE")
    assert exposed == env["PORT"]
    [command] = instructions("CMD")
    assert json.loads(command)[:2] == ["connector", "serve"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["connector"] == "connector.cli:main"
    assert instructions("USER") and instructions("USER")[-1] not in ("root", "0")
    assert "/healthz" in instructions("HEALTHCHECK")[0]
    assert env["CONNECTOR_MODE"] == "production"


def test_connector_environment_names_are_settings_the_connector_reads(compose):
    known = {name.upper() for name in Settings.model_fields} | {"PORT", "WEB_CONCURRENCY"}
    assert set(compose["services"]["connector"]["environment"]) <= known
    assert set(env_of_dockerfile()) - {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",
                                       "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"} <= known


def test_every_setting_can_be_given_to_the_composed_connector(compose):
    # A setting compose does not name never reaches the container, whatever .env says.
    environment = compose["services"]["connector"]["environment"]
    assert {name.upper() for name in Settings.model_fields} <= set(environment)
    # The image's own variable (README: Docker image only) too: found by an audit, .env's
    # WEB_CONCURRENCY did nothing and the image's 2 workers ran.
    assert "WEB_CONCURRENCY" in environment and environment["WEB_CONCURRENCY"] is None


def test_secrets_come_from_the_environment_never_from_the_file(compose):
    for service in compose["services"].values():
        for name, value in service.get("environment", {}).items():
            if re.search(r"SECRET|KEY", name):  # required, or passed on by name when set
                assert value is None or re.fullmatch(r"\$\{%s:\?[^}]+\}" % name, str(value)), name


def test_ports_agree_between_dockerfile_compose_and_the_workflow_settings(compose):
    port = env_of_dockerfile()["PORT"]
    connector = compose["services"]["connector"]
    assert connector["environment"]["PORT"] == port
    assert connector["expose"] == [port]
    assert connector["ports"] == [f"127.0.0.1:{port}:{port}"]  # loopback only
    n8n_env = compose["services"]["n8n"]["environment"]
    assert n8n_env["KOJI_CONNECTOR_URL"] == f"http://connector:{port}"
    assert compose["services"]["n8n"]["depends_on"]["connector"]["condition"] == "service_healthy"


def test_n8n_is_the_pinned_version_and_can_read_what_the_workflow_reads(compose):
    pinned = json.loads((REPO / "tests/e2e/n8n/package.json").read_text())["dependencies"]["n8n"]
    n8n = compose["services"]["n8n"]
    assert n8n["image"].endswith(f"/n8n:{pinned}")
    workflow_env = set(re.findall(r"\$env\.([A-Z_]+)", WORKFLOW.read_text()))
    assert workflow_env and workflow_env <= set(n8n["environment"])
    assert n8n["environment"]["N8N_BLOCK_ENV_ACCESS_IN_NODE"] == "false"
    assert "./n8n-workflows:/workflows:ro" in n8n["volumes"]
    assert n8n["environment"]["N8N_PORT"] == "5678"


def test_n8n_is_published_on_loopback_only_behind_the_tls_proxy(compose):
    # Before: "5678:5678", every interface, plain HTTP, while the docs put a TLS proxy in front.
    assert compose["services"]["n8n"]["ports"] == ["127.0.0.1:5678:5678"]


def test_the_docs_name_the_same_ports_and_variables(compose):
    readme = (REPO / "n8n-workflows" / "README.md").read_text()
    port = env_of_dockerfile()["PORT"]
    for needle in ("docker compose up", f"http://connector:{port}", "5678",
                   "KOJI_CONNECTOR_URL", "SALESFORCE_INSTANCE_URL", "N8N_BLOCK_ENV_ACCESS_IN_NODE",
                   "KOJI_WEBHOOK_SECRET", "CONNECTOR_API_KEYS", "N8N_ENCRYPTION_KEY"):
        assert needle in readme, needle


def test_every_link_in_the_package_points_at_something_the_dockerfile_copies():
    # connector/openapi.yaml links to ../openapi.yaml; the image once copied connector/ alone,
    # so the link dangled there and GET /openapi.yaml answered 500.
    copied = {REPO / src for rest in instructions("COPY") for src in shlex.split(rest)[:-1]}
    links = [path for path in (REPO / "connector").rglob("*") if path.is_symlink()]
    assert links, "connector/openapi.yaml is expected to be a link to the repository's openapi.yaml"
    for link in links:
        target = link.resolve()
        assert any(target == source or source in target.parents for source in copied), (link, target)


def test_license_is_an_spdx_expression_for_a_backend_that_reads_it():
    # The TOML table form ({text = …}) is deprecated by setuptools (a warning on every build);
    # the string form needs setuptools 77 or later.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "Apache-2.0"
    [setuptools] = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools)
    assert minimum and int(minimum.group(1)) >= 77, setuptools


def test_the_uid_the_cli_names_for_the_image_is_the_images():
    # `connector serve` tells an image user without write permission on DATABASE_PATH which uid needs it.
    from connector.cli import IMAGE_UID
    [run] = instructions("RUN")
    assert f"--uid {IMAGE_UID} " in run


def constraints() -> dict[str, Version]:
    """constraints.txt's pins, by normalized name."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            [pin] = requirement.specifier
            assert pin.operator == "==", line
            pins[canonicalize_name(requirement.name)] = Version(pin.version)
    return pins


def test_every_dependency_is_pinned_inside_pyprojects_range():
    # What CI, scripts/serve.sh and the image install: a pin outside the range a library user
    # gets would test something no one else runs; a dependency without a pin would float again.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = constraints()
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} has no pin in constraints.txt"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement.specifier}"


def test_ci_the_run_script_and_the_image_install_the_pinned_versions():
    for script in ("scripts/test.sh", "scripts/serve.sh"):
        installs = [line for line in (REPO / script).read_text().splitlines() if "pip install" in line]
        assert installs and all("-c constraints.txt" in line for line in installs), script
    [run] = instructions("RUN")
    assert run.startswith("pip install -c constraints.txt . ")
    copied = {source for rest in instructions("COPY") for source in shlex.split(rest)[:-1]}
    assert "constraints.txt" in copied


def test_the_image_leaves_port_and_workers_to_the_cli_which_names_the_variables():
    # Found by an audit: CMD passed "$PORT" and "$WEB_CONCURRENCY" on as --port / --workers, so an
    # empty value was refused (the README: empty is unset) and a bad one named --workers, which
    # a Docker user never typed. `connector serve` reads both itself when not given the options.
    from connector import cli
    [command] = instructions("CMD")
    argv = json.loads(command)
    assert argv[0] == "connector" and not {"sh", "bash"} & set(argv)  # no shell: it is PID 1 and gets SIGHUP
    args = cli.build_parser().parse_args(argv[1:])
    assert (args.host, args.port, args.workers) == ("0.0.0.0", None, None)
    env = env_of_dockerfile()
    assert (env["PORT"], env["WEB_CONCURRENCY"]) == (str(cli.DEFAULT_PORT), str(cli.DEFAULT_WORKERS))


@pytest.mark.parametrize("port, checked", [("18150", "18150"), ("", "8080"), (" ", "8080")])
def test_the_healthcheck_asks_the_port_serve_listens_on_an_empty_port_being_unset(monkeypatch, port, checked):
    from connector import cli
    [healthcheck] = instructions("HEALTHCHECK")
    argv = json.loads(healthcheck[healthcheck.index("CMD") + 3:])
    assert argv[:2] == ["python", "-c"]
    asked = []
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: asked.append(url))
    monkeypatch.setenv("PORT", port)
    exec(argv[2], {})
    assert asked == [f"http://127.0.0.1:{checked}/healthz"]
    assert checked == port.strip() or checked == str(cli.DEFAULT_PORT)
