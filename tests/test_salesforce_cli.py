import argparse
import json

import pytest

from connector.salesforce_cli import format_report, register
from tests.fakes.salesforce import RECIPE_FIELDS, FakeSalesforce
from tests.mapping_cases import EXAMPLES


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="connector")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def org(monkeypatch):
    def start(fields=RECIPE_FIELDS):
        fake = FakeSalesforce(fields=fields)
        fake.start()
        monkeypatch.setenv("SALESFORCE_DOMAIN_URL", fake.base_url)
        monkeypatch.setenv("SALESFORCE_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", fake.client_secret)
        started.append(fake)
        return fake
    started: list[FakeSalesforce] = []
    monkeypatch.delenv("MAPPING_PROFILE", raising=False)
    yield start
    for fake in started:
        fake.stop()


def test_check_fields_table_and_exit_0(org, capsys):
    org()
    assert run(["salesforce", "check-fields"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["FIELD", "SENDS", "SALESFORCE", "OK"]
    assert "Interview_Themes__c" in out and "All mapped fields accept" in out


def test_check_fields_json_and_exit_1(org, capsys):
    org([f for f in RECIPE_FIELDS if f["name"] != "Transcript_URL__c"])
    assert run(["salesforce", "check-fields", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [row["field"] for row in report["fields"] if not row["ok"]] == ["Transcript_URL__c"]


def test_check_fields_table_lists_problems(org, capsys):
    org([dict(f, length=80) if f["name"] == "Interview_Themes__c" else f for f in RECIPE_FIELDS])
    assert run(["salesforce", "check-fields"]) == 1
    assert "    - the field is too small: Salesforce has 80, the profile needs 255" in capsys.readouterr().out


def test_the_table_has_a_column_each_and_problems_under_their_field():
    fields = [{"field": "Interview_Themes__c", "profile_type": "text", "salesforce_type": "string", "ok": True,
               "problems": []},
              {"field": "Gone__c", "profile_type": "url", "salesforce_type": None, "ok": False,
               "problems": ["first problem", "second problem"]},
              {"field": "Email", "profile_type": "lookup", "salesforce_type": "email", "ok": True, "problems": []}]
    table = format_report({"ok": False, "fields": fields}).splitlines()
    assert table[:-1] == ["FIELD                SENDS   SALESFORCE  OK",
                          "Interview_Themes__c  text    string      yes",
                          "Gone__c              url     missing     NO",
                          "    - first problem",
                          "    - second problem",
                          "Email                lookup  email       yes",
                          ""]
    assert table[-1] != format_report({"ok": True, "fields": fields[:1]}).splitlines()[-1]


def test_check_fields_without_configuration_exits_2(monkeypatch, capsys):
    for name in ("SALESFORCE_DOMAIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert run(["salesforce", "check-fields"]) == 2
    assert "SALESFORCE_DOMAIN_URL" in capsys.readouterr().err


def test_wrong_secret_exits_2_without_printing_it(org, monkeypatch, capsys):
    org()
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "very-secret-value")
    assert run(["salesforce", "check-fields"]) == 2
    captured = capsys.readouterr()
    assert "invalid_client" in captured.err and "very-secret-value" not in captured.out + captured.err


@pytest.mark.parametrize("describe", [{"fields": None}, {"fields": [{"name": None}]},
                                      {"fields": [dict(RECIPE_FIELDS[0], picklistValues=None)]}],
                         ids=["fields null", "name null", "picklistValues null"])
def test_a_describe_of_another_shape_exits_2_with_a_message(org, monkeypatch, capsys, describe):
    # Before: a TypeError or AttributeError traceback (exit 1, read as "fields do not fit").
    monkeypatch.setattr(org(), "describe", lambda: describe)
    assert run(["salesforce", "check-fields"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "connector: Salesforce's describe of the Contact is not the expected JSON (at /fields")


def test_field_metadata_writes_files(tmp_path, capsys):
    assert run(["salesforce", "field-metadata", "--out", str(tmp_path),
                "--profile", str(EXAMPLES / "survey-scores.yaml")]) == 0
    written = sorted(p.name for p in tmp_path.rglob("*.field-meta.xml"))
    assert written == ["CSAT_Score__c.field-meta.xml", "Last_Survey_Date__c.field-meta.xml",
                       "NPS_Score__c.field-meta.xml"]
    out = capsys.readouterr().out
    assert f"cd {tmp_path} && sf project deploy start --source-dir force-app" in out
    # One line per file written, its path: what the admin reviews before deploying.
    assert {str(p) for p in tmp_path.rglob("*.field-meta.xml")} <= set(out.splitlines())
    assert json.loads((tmp_path / "sfdx-project.json").read_text())["packageDirectories"][0]["path"] == "force-app"


def test_field_metadata_names_the_fields_it_leaves_to_the_org(tmp_path, capsys):
    # A standard field, a managed package's, and the lookups' e-mail and namespaced External ID fields.
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\nactions: {interview.completed: update_contact}\n"
                       "lookup: {order: [external_id, email], external_id_field: pkg__Koji_Ext__c}\n"
                       "fields:\n  - {name: Title, type: text, length: 128, source: respondent.company}\n"
                       "  - {name: ns__Score__c, type: number, precision: 1, source: interview.quality_score}\n")
    assert run(["salesforce", "field-metadata", "--out", str(tmp_path / "out"), "--profile", str(profile)]) == 0
    assert list(tmp_path.rglob("*.field-meta.xml")) == []
    assert ("Not written, as they exist already (standard fields, or a package's with its namespace): "
            "Title, ns__Score__c, pkg__Koji_Ext__c, Email.") in capsys.readouterr().out


def test_bad_profile_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nactions: {interview.done: skip}\n")
    assert run(["salesforce", "field-metadata", "--out", str(tmp_path), "--profile", str(bad)]) == 2
    assert "bad.yaml:2" in capsys.readouterr().err


def test_field_metadata_to_a_place_it_cannot_write_exits_2_with_a_message(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert run(["salesforce", "field-metadata", "--out", str(blocker / "project")]) == 2
    assert "cannot write the metadata" in capsys.readouterr().err


def test_an_instance_url_urllib3_cannot_parse_is_unreachable_not_a_traceback(org, monkeypatch, capsys):
    # The token answer names the instance the calls go to; a host like a..b was urllib3's
    # LocationParseError (no RequestException): a traceback here, a 500 on the route.
    fake = org()
    issue = fake.issue_token

    def broken_instance(*args):
        status, body = issue(*args)
        return status, {**body, "instance_url": "https://a..b.my.salesforce.com"}
    monkeypatch.setattr(fake, "issue_token", broken_instance)
    assert run(["salesforce", "check-fields"]) == 2
    assert capsys.readouterr().err == "connector: Salesforce could not be reached (LocationParseError)\n"


@pytest.mark.parametrize("name, value", [("SALESFORCE_DOMAIN_URL", "https://a..b.my.salesforce.com"),
                                         ("SALESFORCE_DOMAIN_URL", "acme.my.salesforce.com"),
                                         ("SALESFORCE_API_VERSION", "59.0")])
def test_check_fields_with_a_setting_it_cannot_use_exits_2_naming_it(org, monkeypatch, capsys, name, value):
    org()
    monkeypatch.setenv(name, value)
    assert run(["salesforce", "check-fields"]) == 2
    assert capsys.readouterr().err.startswith(f"connector: {name}: ")


def test_check_fields_needs_none_of_the_services_secrets(org, monkeypatch, capsys):
    # Found by a user-side audit: production mode without KOJI_WEBHOOK_SECRET and
    # CONNECTOR_API_KEYS (or a QUALITY_THRESHOLD out of range) stopped it, naming settings it never uses.
    org()
    monkeypatch.setenv("CONNECTOR_MODE", "production")  # the fake listens on 127.0.0.1: plain http is taken
    for name in ("KOJI_WEBHOOK_SECRET", "CONNECTOR_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUALITY_THRESHOLD", "9")
    assert run(["salesforce", "check-fields"]) == 0
    assert "All mapped fields accept" in capsys.readouterr().out


def test_check_fields_keeps_production_modes_rules_for_salesforce(org, monkeypatch, capsys):
    org()
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    monkeypatch.setenv("SALESFORCE_DOMAIN_URL", "http://acme.my.salesforce.com")
    assert run(["salesforce", "check-fields"]) == 2
    assert capsys.readouterr().err == (
        "connector: SALESFORCE_DOMAIN_URL must be https:// in production mode (http:// is accepted for this "
        "machine only: localhost, 127.0.0.1, ::1)\n")


def test_check_fields_refuses_a_domain_url_with_a_path_before_asking_salesforce(org, monkeypatch, capsys):
    # Found by a user-side audit: the token request got a 404, reported as "Salesforce refused the
    # client credentials", which sent the admin to the secret first.
    fake = org()
    monkeypatch.setenv("SALESFORCE_DOMAIN_URL", fake.base_url + "/lightning/page/home")
    assert run(["salesforce", "check-fields"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("connector: SALESFORCE_DOMAIN_URL: must be your My Domain URL alone, without a path")
    assert "credentials" not in err


def test_field_metadata_needs_none_of_the_services_secrets(tmp_path, monkeypatch, capsys):
    # Before: production mode without KOJI_WEBHOOK_SECRET and CONNECTOR_API_KEYS refused it.
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    for name in ("KOJI_WEBHOOK_SECRET", "CONNECTOR_API_KEYS", "MAPPING_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUALITY_THRESHOLD", "9")  # another setting it does not use
    assert run(["salesforce", "field-metadata", "--out", str(tmp_path)]) == 0
    assert "field(s) written" in capsys.readouterr().out


def test_field_metadata_writes_the_configured_api_version(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESFORCE_API_VERSION", "v60.0")
    assert run(["salesforce", "field-metadata", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "sfdx-project.json").read_text())["sourceApiVersion"] == "60.0"


@pytest.mark.parametrize("argv, named", [(["salesforce"], "check-fields"), (["salesforce", "field-metadata"], "--out")])
def test_a_command_line_missing_a_part_exits_2_naming_it(capsys, argv, named):
    with pytest.raises(SystemExit) as caught:
        run(argv)
    assert caught.value.code == 2 and named in capsys.readouterr().err


@pytest.mark.parametrize("command", ["check-fields", "field-metadata"])
def test_help_says_where_the_default_profile_comes_from(capsys, command):
    with pytest.raises(SystemExit) as caught:
        run(["salesforce", command, "--help"])
    assert caught.value.code == 0 and "MAPPING_PROFILE" in capsys.readouterr().out


def test_field_metadata_refuses_an_api_version_salesforce_would_not_take(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SALESFORCE_API_VERSION", "banana")
    assert run(["salesforce", "field-metadata", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("connector: SALESFORCE_API_VERSION: must be an API version")
    assert not (tmp_path / "sfdx-project.json").exists()


def test_field_metadata_with_nothing_to_create_says_there_is_nothing_to_deploy(tmp_path, capsys):
    # Found by an audit: "0 field(s) written. Deploy with: …", and the deploy fails on the empty tree.
    profile = tmp_path / "profile.yaml"
    profile.write_text("version: 1\nactions:\n  interview.completed: update_contact\n"
                       "fields:\n  - {name: Description, type: textarea, source: analysis.summary}\n")
    assert run(["salesforce", "field-metadata", "--out", str(tmp_path / "out"), "--profile", str(profile)]) == 0
    out = capsys.readouterr().out
    assert "Nothing to deploy" in out and "sf project deploy" not in out
    assert not (tmp_path / "out" / "force-app").exists()


def test_field_metadata_names_every_step_after_writing(tmp_path, capsys):
    assert run(["salesforce", "field-metadata", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "sf project deploy start" in out and "permission set" in out and "check-fields" in out
