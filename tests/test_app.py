"""create_app(): what it refuses to start with, and how (exit code 4 stops gunicorn)."""
import pytest
from pydantic import SecretStr

from connector import create_app
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
