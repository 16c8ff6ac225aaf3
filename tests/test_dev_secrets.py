import json
import stat

import pytest

from connector import dev_secrets
from connector.settings import Settings


def test_generated_once_then_reused(tmp_path, capsys):
    first = Settings(database_path=tmp_path / "state.sqlite3")
    created = dev_secrets.fill_missing(first)
    assert set(created) == {"KOJI_WEBHOOK_SECRET", "CONNECTOR_API_KEYS"}
    path = dev_secrets.secrets_path(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = Settings(database_path=tmp_path / "state.sqlite3")
    assert dev_secrets.fill_missing(second) == {}
    assert second.koji_webhook_secret[0].get_secret_value() == json.loads(path.read_text())["KOJI_WEBHOOK_SECRET"]
    dev_secrets.announce(created, first)
    assert "DEVELOPMENT MODE" in capsys.readouterr().err


def test_production_and_configured_secrets_are_left_alone(tmp_path):
    production = Settings(connector_mode="production", koji_webhook_secret="whsec_0123456789abcdef",
                          connector_api_keys="ck_0123456789abcdef",
                          database_path=tmp_path / "p.sqlite3")
    assert dev_secrets.fill_missing(production) == {}
    assert not dev_secrets.secrets_path(production).exists()


def test_a_secret_set_in_the_environment_is_not_printed_over(tmp_path, capsys):
    # Printing a generated webhook secret next to one that is set would show the wrong one.
    settings = Settings(database_path=tmp_path / "state.sqlite3", koji_webhook_secret="my-real-secret")
    created = dev_secrets.fill_missing(settings)
    assert set(created) == {"CONNECTOR_API_KEYS"}
    assert settings.koji_webhook_secret[0].get_secret_value() == "my-real-secret"


def test_later_starts_still_say_development_mode_without_the_values(tmp_path, capsys):
    settings = Settings(database_path=tmp_path / "state.sqlite3")
    dev_secrets.fill_missing(settings)
    again = Settings(database_path=tmp_path / "state.sqlite3")
    dev_secrets.announce(dev_secrets.fill_missing(again), again, every_start=True)
    err = capsys.readouterr().err
    assert "DEVELOPMENT MODE" in err and again.connector_api_keys[0].get_secret_value() not in err


@pytest.mark.parametrize("content, why", [
    ("garbage", "is not JSON"), ("", "is not JSON"), ("{}", "does not hold KOJI_WEBHOOK_SECRET and CONNECTOR_API_KEYS"),
    ('{"KOJI_WEBHOOK_SECRET": "whsec_dev", "CONNECTOR_API_KEYS": 7}', "does not hold"),
    ('["whsec_dev", "ck_dev"]', "does not hold"),
])
def test_a_damaged_file_is_named_with_what_to_do(tmp_path, monkeypatch, content, why):
    # Before: a RuntimeError traceback (not JSON) or a KeyError ({}).
    monkeypatch.setattr(dev_secrets.time, "sleep", lambda seconds: None)  # the wait for a writer
    settings = Settings(database_path=tmp_path / "state.sqlite3")
    path = dev_secrets.secrets_path(settings)
    path.write_text(content)
    for read in (dev_secrets.fill_missing, dev_secrets.stored):
        with pytest.raises(dev_secrets.DevSecretsDamaged) as caught:
            read(settings)
        message = str(caught.value)
        assert f"the development secrets file {path} {why}" in message
        assert "delete it, and the next `connector serve` generates new ones" in message


def test_stored_secrets_are_read_as_the_service_keeps_them(tmp_path):
    settings = Settings(database_path=tmp_path / "state.sqlite3")
    assert dev_secrets.stored(settings) == {}  # none generated yet
    dev_secrets.fill_missing(settings)
    assert dev_secrets.stored(settings) == json.loads(dev_secrets.secrets_path(settings).read_text())
