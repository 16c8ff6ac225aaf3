import pytest

from connector.settings import Mode, SettingsError, load_settings

ENV = ["CONNECTOR_MODE", "KOJI_WEBHOOK_SECRET", "CONNECTOR_API_KEYS", "QUALITY_THRESHOLD", "HTTP_TIMEOUT_SECONDS",
       "LOG_LEVEL", "KOJI_ENRICH", "KOJI_API_KEY", "DATABASE_PATH", "LEDGER_RETENTION_DAYS"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_no_configuration_is_development_mode():
    settings = load_settings()
    assert settings.connector_mode is Mode.development
    assert settings.koji_webhook_secret == [] and settings.connector_api_keys == []
    assert str(settings.database_path) == "connector-state.sqlite3"
    assert settings.ledger_retention_days == 7 and settings.max_body_bytes == 1024 * 1024


def test_comma_separated_secrets_for_rotation(monkeypatch):
    monkeypatch.setenv("KOJI_WEBHOOK_SECRET", " new-secret , old-secret ,")
    monkeypatch.setenv("CONNECTOR_API_KEYS", "k1")
    settings = load_settings()
    assert [s.get_secret_value() for s in settings.koji_webhook_secret] == ["new-secret", "old-secret"]
    assert "new-secret" not in repr(settings)


def test_production_without_secrets_names_both_variables(monkeypatch):
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    with pytest.raises(SettingsError, match="KOJI_WEBHOOK_SECRET and CONNECTOR_API_KEYS"):
        load_settings()


def test_production_with_secrets_starts(monkeypatch):
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    monkeypatch.setenv("KOJI_WEBHOOK_SECRET", "whsec_0123456789abcdef")
    monkeypatch.setenv("CONNECTOR_API_KEYS", "ck_0123456789abcdef")
    assert load_settings().connector_mode is Mode.production


@pytest.mark.parametrize("secret, key, named", [
    ("s", "ck_0123456789abcdef", "KOJI_WEBHOOK_SECRET must"),
    ("whsec_0123456789abcdef", "ck_0123456789abcdef,k", "CONNECTOR_API_KEYS must"),
    ("whsec_012345678", "ck_0123456789ab", "KOJI_WEBHOOK_SECRET and CONNECTOR_API_KEYS must"),  # 15 each
])
def test_production_refuses_a_secret_or_key_that_can_be_guessed(monkeypatch, secret, key, named):
    # Before: a one-letter key was accepted, and masking it in the logs replaced that letter
    # everywhere ("/v1/[secret]ale[secret]force/…"), which also gave it away.
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    monkeypatch.setenv("KOJI_WEBHOOK_SECRET", secret)
    monkeypatch.setenv("CONNECTOR_API_KEYS", key)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{named} be at least 16 characters each in production mode" in message
    assert key not in message and (len(secret) == 1 or secret not in message)  # never the values


def test_development_takes_any_secret(monkeypatch):
    monkeypatch.setenv("KOJI_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("CONNECTOR_API_KEYS", "k")
    assert load_settings().connector_mode is Mode.development


@pytest.mark.parametrize("name, value", [("QUALITY_THRESHOLD", "9"), ("HTTP_TIMEOUT_SECONDS", "0"),
                                         ("CONNECTOR_MODE", "staging"), ("LOG_LEVEL", "verbose")])
def test_bad_values_name_the_variable_but_not_the_value(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert name in str(caught.value)


def test_log_level_is_read_in_any_case(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", " warning ")
    assert load_settings().log_level == "WARNING"


@pytest.mark.parametrize("value", ["Production", " PRODUCTION ", "production"])
def test_connector_mode_is_read_in_any_case(monkeypatch, value):
    monkeypatch.setenv("CONNECTOR_MODE", value)
    monkeypatch.setenv("KOJI_WEBHOOK_SECRET", "whsec_0123456789abcdef")
    monkeypatch.setenv("CONNECTOR_API_KEYS", "ck_0123456789abcdef")
    assert load_settings().connector_mode is Mode.production


@pytest.mark.parametrize("name", ["QUALITY_THRESHOLD", "HTTP_TIMEOUT_SECONDS", "CONNECTOR_MODE", "LOG_LEVEL",
                                  "KOJI_ENRICH", "DATABASE_PATH", "LEDGER_RETENTION_DAYS"])
def test_an_empty_variable_is_unset(monkeypatch, name):
    # As `QUALITY_THRESHOLD=` in an .env file (or docker compose passing one on) sets it.
    unset = load_settings()
    monkeypatch.setenv(name, "")
    assert load_settings().model_dump() == unset.model_dump()


def test_enrichment_without_an_api_key_is_refused_at_start_up(monkeypatch):
    monkeypatch.setenv("KOJI_ENRICH", "true")
    with pytest.raises(SettingsError, match="KOJI_ENRICH=true needs KOJI_API_KEY"):
        load_settings()
    monkeypatch.setenv("KOJI_API_KEY", "")  # empty is unset
    with pytest.raises(SettingsError, match="KOJI_API_KEY"):
        load_settings()
    monkeypatch.setenv("KOJI_API_KEY", "koji-key")
    assert load_settings().koji_enrich is True


def test_every_missing_setting_is_named_at_once(monkeypatch):
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    monkeypatch.setenv("KOJI_ENRICH", "true")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "KOJI_WEBHOOK_SECRET and CONNECTOR_API_KEYS" in str(caught.value)
    assert "KOJI_API_KEY" in str(caught.value)


def test_messages_read_without_pydantics_prefixes(monkeypatch):
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("production mode needs KOJI_WEBHOOK_SECRET")
    assert "Value error" not in str(caught.value) and "settings:" not in str(caught.value)
