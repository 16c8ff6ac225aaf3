"""create_app(): what it refuses to start with, and how (exit code 4 stops gunicorn)."""
import io
import logging

import pytest
from pydantic import SecretStr

from connector import create_app, metrics
from connector.app import APP_LOAD_ERROR
from connector.settings import Mode, Settings


def production(database_path) -> Settings:
    return Settings(connector_mode="production", koji_webhook_secret=[SecretStr("whsec_app_0123456789")],
                    connector_api_keys=[SecretStr("ck_app_0123456789")], database_path=database_path)


def test_a_missing_database_directory_is_created_in_production_mode(tmp_path):
    app = create_app(production(tmp_path / "data" / "state.sqlite3"))
    assert (tmp_path / "data" / "state.sqlite3").exists()
    assert app.test_client().get("/healthz").status_code == 200


@pytest.mark.parametrize("mode", ["production", "development"])
def test_a_database_path_that_cannot_be_used_stops_the_app_naming_database_path(tmp_path, capsys, mode):
    settings = production(tmp_path)  # a directory
    settings.connector_mode = Mode(mode)
    with pytest.raises(SystemExit) as caught:
        create_app(settings)
    assert caught.value.code == APP_LOAD_ERROR
    err = capsys.readouterr().err
    assert f"configuration refused: DATABASE_PATH: {tmp_path} cannot be used" in err
    assert "it is a directory" in err and "DEVELOPMENT MODE" not in err


def test_a_mapping_profile_that_cannot_be_used_stops_the_app_naming_the_line(tmp_path, capsys):
    # Plain gunicorn reads the profile in each worker: exit 4 stops it rather than a restart loop.
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfields: [{name: X__c, type: txt}]\n")
    settings = production(tmp_path / "state.sqlite3")
    settings.mapping_profile = bad
    with pytest.raises(SystemExit) as caught:
        create_app(settings)
    assert caught.value.code == APP_LOAD_ERROR
    assert f"connector: mapping profile refused: {bad}:" in capsys.readouterr().err


def test_enrichment_without_a_key_stops_the_app(tmp_path, monkeypatch, capsys):
    for name, value in {"CONNECTOR_MODE": "production", "KOJI_WEBHOOK_SECRET": "whsec_app_0123456789",
                        "CONNECTOR_API_KEYS": "ck_app_0123456789",
                        "DATABASE_PATH": str(tmp_path / "s.sqlite3"), "KOJI_ENRICH": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KOJI_API_KEY", raising=False)
    with pytest.raises(SystemExit) as caught:
        create_app()
    assert caught.value.code == APP_LOAD_ERROR
    assert "configuration refused: KOJI_ENRICH=true needs KOJI_API_KEY" in capsys.readouterr().err


def test_a_metrics_directory_that_is_not_one_stops_the_app_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(metrics, "_recorder", None)  # one per process: this app's is made afresh
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(SystemExit) as caught:
        create_app(production(tmp_path / "state.sqlite3"))
    assert caught.value.code == APP_LOAD_ERROR
    assert f"configuration refused: PROMETHEUS_MULTIPROC_DIR {tmp_path / 'missing'} is not a directory" \
        in capsys.readouterr().err


def test_development_mode_prints_the_secrets_it_generates_once(tmp_path, capsys):
    def development() -> Settings:
        return Settings(connector_mode="development", koji_webhook_secret=[], connector_api_keys=[],
                        database_path=tmp_path / "state.sqlite3")
    settings = development()
    client = create_app(settings).test_client()
    printed = capsys.readouterr().err
    api_key = settings.connector_api_keys[0].get_secret_value()
    assert "DEVELOPMENT MODE" in printed and f"CONNECTOR_API_KEYS={api_key}" in printed
    assert f"KOJI_WEBHOOK_SECRET={settings.koji_webhook_secret[0].get_secret_value()}" in printed
    assert client.get("/v1/salesforce/fields", headers={"X-API-Key": api_key}).status_code == 200
    create_app(development())  # a restart, or the next worker: the same secrets, not printed again
    assert api_key not in capsys.readouterr().err


def test_every_configured_secret_is_masked_should_a_log_line_carry_it(tmp_path):
    secrets = {"koji_webhook_secret": [SecretStr("whsec_masked_0123456789")],
               "connector_api_keys": [SecretStr("ck_masked_0123456789")],
               "koji_api_key": SecretStr("koji_masked_0123456789"),
               "salesforce_client_secret": SecretStr("sf_masked_0123456789")}
    create_app(Settings(connector_mode="production", database_path=tmp_path / "state.sqlite3",
                        salesforce_domain_url="https://example.my.salesforce.com", salesforce_client_id="id",
                        **secrets))
    written = io.StringIO()
    logging.getLogger("connector").handlers[0].setStream(written)  # the connector's handler, after its filter
    logging.getLogger("connector.test").warning("upstream said %s", " ".join(
        value.get_secret_value() for values in secrets.values() for value in (values if isinstance(values, list)
                                                                            else [values])))
    assert "upstream said" in written.getvalue() and "masked_0123456789" not in written.getvalue()
