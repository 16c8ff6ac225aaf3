import errno
import json
import os
import stat
import threading

import pytest

from connector import dev_secrets
from connector.logs import MIN_MASKED_CHARS
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


def test_development_with_both_secrets_configured_keeps_no_file(tmp_path):
    settings = Settings(database_path=tmp_path / "state.sqlite3", koji_webhook_secret="whsec_mine_0123456789",
                        connector_api_keys="ck_mine_0123456789")
    assert dev_secrets.fill_missing(settings) == {}
    assert not dev_secrets.secrets_path(settings).exists()


def test_the_banner_shows_the_values_in_force_and_where_they_are_kept(tmp_path, capsys):
    # In a directory not made yet: DATABASE_PATH's directory is created, as for the ledger.
    settings = Settings(database_path=tmp_path / "new" / "state" / "state.sqlite3")
    created = dev_secrets.fill_missing(settings)
    in_force = {"KOJI_WEBHOOK_SECRET": settings.koji_webhook_secret[0].get_secret_value(),
                "CONNECTOR_API_KEYS": settings.connector_api_keys[0].get_secret_value()}
    assert created == in_force == json.loads(dev_secrets.secrets_path(settings).read_text())
    assert in_force["KOJI_WEBHOOK_SECRET"].startswith("whsec_") and in_force["CONNECTOR_API_KEYS"].startswith("ck_")
    assert all(len(value) >= MIN_MASKED_CHARS for value in in_force.values())  # long enough to be masked
    dev_secrets.announce(created, settings)
    err = capsys.readouterr().err
    assert str(dev_secrets.secrets_path(settings)) in err
    for name, value in in_force.items():
        assert f"   {name}={value}\n" in err


def test_nothing_is_announced_without_values_unless_each_start_asks_and_only_in_development(tmp_path, capsys):
    development = Settings(database_path=tmp_path / "state.sqlite3")
    production = Settings(connector_mode="production", koji_webhook_secret="whsec_0123456789abcdef",
                          connector_api_keys="ck_0123456789abcdef", database_path=tmp_path / "p.sqlite3")
    dev_secrets.announce({}, development)  # the app's own call, in each worker
    dev_secrets.announce({}, production, every_start=True)
    assert capsys.readouterr().err == ""
    dev_secrets.announce({}, development, every_start=True)  # connector serve's, once
    assert str(dev_secrets.secrets_path(development)) in capsys.readouterr().err


def test_a_file_being_written_by_another_worker_is_waited_for(tmp_path):
    settings = Settings(database_path=tmp_path / "state.sqlite3")
    path = dev_secrets.secrets_path(settings)
    path.write_text("")  # created, not yet written
    timer = threading.Timer(0.1, path.write_text, ['{"KOJI_WEBHOOK_SECRET": "whsec_w", "CONNECTOR_API_KEYS": "ck_w"}'])
    timer.start()
    try:
        assert dev_secrets.stored(settings) == {"KOJI_WEBHOOK_SECRET": "whsec_w", "CONNECTOR_API_KEYS": "ck_w"}
    finally:
        timer.join()


def test_a_file_that_cannot_be_read_is_named_with_the_reason(tmp_path):
    settings = Settings(database_path=tmp_path / "state.sqlite3")
    path = dev_secrets.secrets_path(settings)
    path.mkdir()  # something that is no file
    with pytest.raises(dev_secrets.DevSecretsDamaged) as caught:
        dev_secrets.stored(settings)
    assert str(caught.value) == f"the development secrets file {path} cannot be read ({os.strerror(errno.EISDIR)})"


@pytest.mark.parametrize("every_start", [False, True], ids=["first start", "later start"])
def test_the_banner_names_the_secrets_file_by_its_absolute_path(tmp_path, monkeypatch, capsys, every_start):
    # Found by a user-side audit: "stored in connector-state.sqlite3.dev-secrets.json" (or in
    # "~/…", not expanded) left the reader to guess which directory the service ran in.
    monkeypatch.chdir(tmp_path)
    settings = Settings(database_path="state/ledger.sqlite3")
    created = dev_secrets.fill_missing(settings)
    dev_secrets.announce({} if every_start else created, settings, every_start=every_start)
    shown = tmp_path.resolve() / "state" / "ledger.sqlite3.dev-secrets.json"
    assert shown.exists() and f" {shown}" in capsys.readouterr().err
