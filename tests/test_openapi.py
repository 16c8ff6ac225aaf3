"""openapi.yaml: valid, complete, consistent with the code, and fuzzed against the live service."""
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from connector.openapi_doc import bundle, bundled_openapi_text, load_spec
from connector.validation import load_schema
from live import REPO, running_connector
from tests.fakes.salesforce import FakeSalesforce

FUZZ_DIR = Path(__file__).resolve().parent / "schemathesis"


@pytest.fixture(scope="module")
def bundled():
    return yaml.safe_load(bundled_openapi_text())


def test_the_served_document_is_valid_openapi_3_1(bundled):
    assert bundled["openapi"] == "3.1.0"
    validate(bundled)


def test_the_file_references_the_package_schemas_instead_of_copying_them():
    text = (REPO / "openapi.yaml").read_text()
    for name in ["koji-webhook", "koji-interview", "verify-envelope"]:
        assert f"./connector/schemas/{name}.schema.json" in text


def test_every_route_is_documented_with_its_methods(app, bundled):
    documented = {(path, method.upper()) for path, item in bundled["paths"].items()
                  for method in item if method in {"get", "post", "put", "patch", "delete"}}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <path:key> → {key}
        served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_examples_validate_against_the_request_schemas(bundled):
    for name, example in bundled["components"]["examples"].items():
        schema_name = "KojiInterview" if name == "fullInterview" else "KojiWebhook"
        # The whole document as the root, so "#/components/..." references resolve.
        validator = Draft202012Validator({**bundled, "$ref": f"#/components/schemas/{schema_name}"})
        errors = list(validator.iter_errors(example["value"]))
        assert not errors, (name, [e.message for e in errors])


def test_examples_are_the_shipped_samples(bundled):
    samples = {json.dumps(json.loads(p.read_text()), sort_keys=True) for p in (REPO / "connector/samples").glob("*.json")}
    for name, example in bundled["components"]["examples"].items():
        assert json.dumps(example["value"], sort_keys=True) in samples, name


def test_bundling_rewrites_internal_defs():
    spec = bundle(load_spec())
    text = json.dumps(spec)
    assert "#/$defs/" not in text
    assert "#/components/schemas/KojiWebhook_person" in text


def test_the_service_serves_the_bundled_document_without_a_key(client, bundled):
    response = client.get("/openapi.yaml")
    assert (response.status_code, response.mimetype) == (200, "application/yaml")
    assert yaml.safe_load(response.data) == bundled


def test_the_served_document_keeps_the_files_order_and_characters():
    text, spec = bundled_openapi_text(), load_spec()
    served = yaml.safe_load(text)
    assert list(served) == list(spec) and list(served["paths"]) == list(spec["paths"])  # as written, for readers
    assert spec["info"]["title"] in text and "→" in spec["info"]["title"]  # not "\u2192"


def test_bundling_inlines_each_referenced_schema_once_and_keeps_what_is_beside_the_reference():
    webhook, interview = "./connector/schemas/koji-webhook.schema.json", "./connector/schemas/koji-interview.schema.json"
    spec = {"openapi": "3.1.0",  # no components yet
            "paths": {"/a": {"schema": {"$ref": webhook, "description": "beside", "not": {"$ref": interview}}},
                      "/b": {"schema": {"$ref": webhook}},
                      "/c": {"oneOf": [{"$ref": interview}, {"$ref": "#/components/examples/kept"}]}}}
    bundled = bundle(spec)
    assert bundled["paths"] == {
        "/a": {"schema": {"description": "beside", "not": {"$ref": "#/components/schemas/KojiInterview"},
                          "$ref": "#/components/schemas/KojiWebhook"}},
        "/b": {"schema": {"$ref": "#/components/schemas/KojiWebhook"}},
        "/c": {"oneOf": [{"$ref": "#/components/schemas/KojiInterview"}, {"$ref": "#/components/examples/kept"}]}}
    components = bundled["components"]["schemas"]
    for name, file_name in [("KojiWebhook", "koji-webhook.schema.json"), ("KojiInterview", "koji-interview.schema.json")]:
        original = load_schema(file_name)
        assert "$defs" in original and "$id" in original  # the validator's cached copy is left whole
        assert {key for key in components if key.startswith(name + "_")} == {f"{name}_{d}" for d in original["$defs"]}
        # An $id would make the component's references resolve against the file's address.
        assert components[name].keys() == original.keys() - {"$defs", "$id", "$schema"}
    text = json.dumps(bundled)
    assert "#/$defs/" not in text and "./connector/schemas/" not in text
    for target in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert target in components, target


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_and_no_spec_violations(tmp_path):
    # A configured (fake) Salesforce, so check-fields is exercised rather than answering 503.
    with FakeSalesforce() as salesforce, running_connector(tmp_path, workers=2, env={
            "SALESFORCE_DOMAIN_URL": salesforce.base_url, "SALESFORCE_CLIENT_ID": "test-client-id",
            "SALESFORCE_CLIENT_SECRET": "test-client-secret"}) as live:
        command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(FUZZ_DIR / "schemathesis.toml"),
                   "run", live.base_url + "/openapi.yaml",
                   "--url", live.base_url, "-H", f"Authorization: Bearer {live.api_key}",
                   "--checks", "all", "--max-examples", "40",
                   "--generation-deterministic", "--suppress-health-check", "all",
                   "--report", "junit", "--report-dir", str(tmp_path / "reports")]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "signing_hooks", "KOJI_WEBHOOK_SECRET_FOR_FUZZING": live.webhook_secret,
               "PYTHONPATH": str(FUZZ_DIR)}
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-8000:]
        statuses = [line.split("status=")[1].split()[0] for line in live.logs().splitlines() if " status=" in line]
        assert len(statuses) > 100  # the fuzzer really sent requests
        assert not [s for s in statuses if s.startswith("5")]


@pytest.mark.slow
def test_a_non_editable_install_carries_the_spec_schemas_samples_and_profile(tmp_path):
    """What the Dockerfile does (`pip install -c constraints.txt .`): the wheel must hold every data file."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The dependencies come from this test's own environment: a .pth line puts its
    # site-packages after the new venv's, where the wheel goes (the editable install of the
    # checkout is not seen, because .pth files are only read from the venv's own site-packages).
    own_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    new_site = Path(subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
    (new_site / "test-dependencies.pth").write_text("\n".join(sorted(own_site)) + "\n")
    wheel = next((tmp_path / "dist").glob("*.whl"))
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    probe = ("import connector, json; from connector.openapi_doc import bundled_openapi_text; "
             "from connector.cli import sample_payload; from connector.profile_file import load_profile; "
             "assert 'site-packages' in connector.__file__, connector.__file__; "
             "assert bundled_openapi_text().startswith('openapi: 3.1.0'); "
             "assert sample_payload('ping')['type'] == 'ping'; print(len(load_profile(None).all_fields))")
    result = subprocess.run([str(venv / "bin/python"), "-c", probe], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "6"
