from pathlib import Path

import pytest

from connector.koji_api import KojiUnavailable, fetch_interview
from connector.settings import (CheckFieldsSettings, MetadataSettings, Mode, SenderSettings, Settings, SettingsError,
                                load_settings)

ENV = ["CONNECTOR_MODE", "KOJI_WEBHOOK_SECRET", "CONNECTOR_API_KEYS", "QUALITY_THRESHOLD", "HTTP_TIMEOUT_SECONDS",
       "LOG_LEVEL", "KOJI_ENRICH", "KOJI_API_KEY", "DATABASE_PATH", "LEDGER_RETENTION_DAYS", "LEDGER_LEASE_SECONDS",
       "KOJI_API_BASE_URL", "SALESFORCE_DOMAIN_URL", "SALESFORCE_CLIENT_SECRET", "SALESFORCE_API_VERSION",
       "MAPPING_PROFILE"]
PRODUCTION = {"CONNECTOR_MODE": "production", "KOJI_WEBHOOK_SECRET": "whsec_0123456789abcdef",
              "CONNECTOR_API_KEYS": "ck_0123456789abcdef"}


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


@pytest.mark.parametrize("kind", [Settings, SenderSettings])
def test_an_in_memory_database_is_refused_since_workers_would_not_share_it(monkeypatch, kind):
    monkeypatch.setenv("DATABASE_PATH", ":memory:")
    with pytest.raises(SettingsError, match="DATABASE_PATH: must be a file's path"):
        load_settings(kind)
    monkeypatch.setenv("DATABASE_PATH", "state/:memory:")  # a file of that name in a directory is a file
    assert str(load_settings(kind).database_path) == "state/:memory:"


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


def production(monkeypatch, **variables: str) -> None:
    for name, value in {**PRODUCTION, **variables}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("name, value", [
    ("QUALITY_THRESHOLD", "nan"), ("HTTP_TIMEOUT_SECONDS", "nan"), ("LEDGER_RETENTION_DAYS", "nan"),
    ("LEDGER_RETENTION_DAYS", "inf"), ("LEDGER_LEASE_SECONDS", "inf"), ("LEDGER_LEASE_SECONDS", "-inf"),
])
def test_nan_and_infinity_are_refused_as_not_finite(monkeypatch, name, value):
    # Before: nan was "should be less than or equal to 5" (every comparison with nan is false)
    # and inf passed LEDGER_*'s only bound.
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: Input should be a finite number$"):
        load_settings()


def test_a_retention_shorter_than_kojis_retries_is_refused(monkeypatch):
    # A key forgotten before Koji's last retry (about 2.5 hours) lets that copy do the work again.
    monkeypatch.setenv("LEDGER_RETENTION_DAYS", "0.1")
    with pytest.raises(SettingsError, match="^LEDGER_RETENTION_DAYS: "):
        load_settings()
    monkeypatch.setenv("LEDGER_RETENTION_DAYS", "0.125")
    assert load_settings().ledger_retention_days == 0.125


@pytest.mark.parametrize("name, highest", [("LEDGER_RETENTION_DAYS", 3650), ("LEDGER_LEASE_SECONDS", 86400)])
def test_ledger_durations_have_an_upper_bound(monkeypatch, name, highest):
    monkeypatch.setenv(name, str(highest))
    load_settings()
    for value in (str(highest + 1), "1e300"):
        monkeypatch.setenv(name, value)
        with pytest.raises(SettingsError, match=f"{name}: Input should be less than or equal to {highest}"):
            load_settings()


@pytest.mark.parametrize("name", ["KOJI_API_BASE_URL", "SALESFORCE_DOMAIN_URL"])
@pytest.mark.parametrize("value, problem", [
    ("koji.so", "must be an http:// or https:// URL with a host name"),
    ("ftp://koji.so", "must be an http:// or https:// URL with a host name"),
    ("https://", "must be an http:// or https:// URL with a host name"),
    ("https://user:pw@:8/", "must be an http:// or https:// URL with a host name"),
    ("https://host:99999", "is not a URL"),
    ("https://[::1", "is not a URL"),
    ("https://a..b.my.salesforce.com", "has a host name with an empty or too long label"),
    ("https://acme.my.salesforce.com/?token=abc", "must not have a query or a fragment"),
])
def test_a_url_setting_that_cannot_be_called_is_refused_at_start_up(monkeypatch, name, value, problem):
    # Before: KOJI_API_BASE_URL=koji.so started, and every enrichment was a 502; a..b was a
    # LocationParseError traceback (CLI) or a 500 (routes).
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{name}: {problem}")
    assert "pw" not in str(caught.value) and "abc" not in str(caught.value)  # never the URL


@pytest.mark.parametrize("name", ["KOJI_API_BASE_URL", "SALESFORCE_DOMAIN_URL"])
def test_production_needs_https_to_koji_and_salesforce(monkeypatch, name):
    # Plain http would carry KOJI_API_KEY or SALESFORCE_CLIENT_SECRET across the network in clear.
    production(monkeypatch, **{name: "http://acme.my.salesforce.com"})
    with pytest.raises(SettingsError, match=f"{name} must be https:// in production mode"):
        load_settings()
    monkeypatch.setenv(name, "https://acme.my.salesforce.com/")
    load_settings()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123", "http://localhost:8123/", "http://[::1]:8123"])
def test_production_takes_plain_http_to_this_machine(monkeypatch, url):
    # Nothing crosses a network; the tests' fake Koji API and Salesforce listen there.
    koji = url.rstrip("/") + "/koji"
    production(monkeypatch, KOJI_API_BASE_URL=koji, SALESFORCE_DOMAIN_URL=url)
    settings = load_settings()
    assert (settings.koji_api_base_url, settings.salesforce_domain_url) == (koji, url)


@pytest.mark.parametrize("kind", [Settings, CheckFieldsSettings])
@pytest.mark.parametrize("path", ["/lightning/page/home", "/services/oauth2/token", "/x/"])
def test_a_salesforce_domain_url_with_a_path_is_refused_at_start_up(monkeypatch, kind, path):
    # Found by a user-side audit: a pasted page URL got Salesforce's 404 for the token, reported
    # as "refused the client credentials", which points at the secret first. A My Domain URL
    # has no path; the connector adds /services/… itself.
    monkeypatch.setenv("SALESFORCE_DOMAIN_URL", "https://acme.my.salesforce.com" + path)
    with pytest.raises(SettingsError) as caught:
        load_settings(kind)
    assert str(caught.value) == ("SALESFORCE_DOMAIN_URL: must be your My Domain URL alone, without a path "
                                 "(https://yourcompany.my.salesforce.com): the connector adds /services/… to it")
    monkeypatch.setenv("KOJI_API_BASE_URL", "https://proxy.example.com/koji")  # Koji's base may have one
    monkeypatch.setenv("SALESFORCE_DOMAIN_URL", "https://acme.my.salesforce.com/")
    assert load_settings(kind).salesforce_domain_url == "https://acme.my.salesforce.com/"


@pytest.mark.parametrize("kind", [Settings, SenderSettings])
@pytest.mark.parametrize("mode", ["development", "production"])
@pytest.mark.parametrize("key", ["clé-secrète-0123456789abc", "ck_0123456789abcdef\x7f", "ck_0123\t456789abcdef",
                                 "ck_0123456789abcdef,ключ-0123456789abcdef"])
def test_an_api_key_that_is_not_printable_ascii_is_refused_at_start_up(monkeypatch, kind, mode, key):
    # Found by a user-side audit: a non-ASCII key started, then matched the clients that send
    # headers in Latin-1 (requests, Node) and answered 401 to those that send UTF-8 (curl, Go's
    # Prometheus), with no hint why.
    production(monkeypatch, CONNECTOR_MODE=mode, CONNECTOR_API_KEYS=key)
    with pytest.raises(SettingsError) as caught:
        load_settings(kind)
    message = str(caught.value)
    assert message.startswith("CONNECTOR_API_KEYS: must be printable ASCII") and "HTTP header" in message
    assert all(part.strip() not in message for part in key.split(","))  # never the key


def test_an_api_key_with_an_inner_space_is_taken(monkeypatch):
    # A header value may hold a space; only the ends are trimmed (by the comma split and by auth).
    production(monkeypatch, CONNECTOR_API_KEYS="ck 0123456789 abcdef")
    assert load_settings().connector_api_keys[0].get_secret_value() == "ck 0123456789 abcdef"


def test_a_koji_api_key_that_is_not_printable_ascii_is_refused_at_start_up(monkeypatch):
    # Sent as `Authorization: Bearer <key>`: the same rule as the connector's own keys.
    monkeypatch.setenv("KOJI_API_KEY", "clé-koji-0123456789")
    with pytest.raises(SettingsError, match="^KOJI_API_KEY: must be printable ASCII"):
        load_settings()


@pytest.mark.parametrize("name, kind", [("KOJI_WEBHOOK_SECRET", Settings), ("KOJI_WEBHOOK_SECRET", SenderSettings),
                                        ("SALESFORCE_CLIENT_SECRET", Settings),
                                        ("SALESFORCE_CLIENT_SECRET", CheckFieldsSettings)])
def test_a_secret_whose_bytes_are_not_utf8_is_refused_but_non_ascii_utf8_is_taken(monkeypatch, name, kind):
    # The HMAC key is the secret's UTF-8 bytes, as Koji's example (Node's createHmac with a
    # string) makes it, so é is fine. The environment's bytes of a Latin-1 file are not UTF-8
    # and reach Python as lone surrogates: every webhook was then a 500 (UnicodeEncodeError).
    monkeypatch.setenv(name, "whsec_clé_0123456789abcdef")
    assert load_settings(kind) is not None
    monkeypatch.setenv(name, b"whsec_cl\xe9_0123456789abcdef".decode("utf-8", "surrogateescape"))
    with pytest.raises(SettingsError) as caught:
        load_settings(kind)
    assert str(caught.value).startswith(f"{name}: is not UTF-8 text")
    assert "0123456789abcdef" not in str(caught.value)


@pytest.mark.parametrize("kind", [Settings, SenderSettings])
def test_a_database_path_under_a_tilde_is_in_the_home_directory(monkeypatch, tmp_path, kind):
    # Found by a user-side audit: systemd's Environment=, an env file or a quoted value pass the ~
    # on, and the ledger went into a directory named ~ under wherever the service ran.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATABASE_PATH", "~/koji/ledger.sqlite3")
    assert load_settings(kind).database_path == tmp_path / "koji" / "ledger.sqlite3"


@pytest.mark.parametrize("kind", [Settings, MetadataSettings, CheckFieldsSettings])
def test_a_mapping_profile_under_a_tilde_is_in_the_home_directory(monkeypatch, tmp_path, kind):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MAPPING_PROFILE", "~/profile.yaml")
    assert load_settings(kind).mapping_profile == tmp_path / "profile.yaml"


def test_a_tilde_that_cannot_be_expanded_is_refused_naming_the_variable(monkeypatch):
    # ~someone-unknown: pathlib raises RuntimeError, which was a traceback, not a message.
    monkeypatch.setenv("DATABASE_PATH", "~no-such-user-h72/ledger.sqlite3")
    with pytest.raises(SettingsError, match="^DATABASE_PATH: starts with ~, but this user's home directory is not "
                                            "known here: give the full path$"):
        load_settings()
    monkeypatch.setenv("DATABASE_PATH", "state/~/ledger.sqlite3")  # a ~ further on is a name like any other
    assert load_settings().database_path == Path("state/~/ledger.sqlite3")


def test_development_takes_plain_http_anywhere(monkeypatch):
    monkeypatch.setenv("KOJI_API_BASE_URL", "http://koji.internal")
    monkeypatch.setenv("SALESFORCE_DOMAIN_URL", "http://acme.my.salesforce.com")
    assert load_settings().salesforce_domain_url == "http://acme.my.salesforce.com"


@pytest.mark.parametrize("value", ["59.0", "banana", "v59", "v59.0/sobjects", "V59.0"])
def test_salesforce_api_version_must_look_like_one(monkeypatch, value):
    monkeypatch.setenv("SALESFORCE_API_VERSION", value)
    with pytest.raises(SettingsError, match="^SALESFORCE_API_VERSION: must be an API version as Salesforce"):
        load_settings()


@pytest.mark.parametrize("value", ["v59.0", "v62.0", "v7.0"])
def test_salesforce_api_versions_are_taken(monkeypatch, value):
    monkeypatch.setenv("SALESFORCE_API_VERSION", value)
    assert load_settings().salesforce_api_version == value


@pytest.mark.parametrize("name", ["KOJI_API_KEY", "SALESFORCE_CLIENT_SECRET"])
def test_production_refuses_a_placeholder_for_a_key_koji_or_salesforce_issued(monkeypatch, name):
    # Before: KOJI_API_KEY=k was taken, and masking it in the logs replaced every k, giving it away.
    production(monkeypatch, **{name: "k"})
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == f"{name} must be at least 8 characters in production mode (the whole key, as " \
                                "Koji or Salesforce issued it)"
    monkeypatch.setenv(name, "koji-key")  # 8
    load_settings()
    monkeypatch.setenv("CONNECTOR_MODE", "development")
    monkeypatch.setenv(name, "k")
    load_settings()


def test_a_host_name_urllib3_cannot_parse_is_unreachable_not_a_traceback(monkeypatch):
    # The settings refuse one at start-up; should one get past them (settings built without
    # validation), Koji's API "could not be reached", as for any host that does not answer:
    # before, urllib3's LocationParseError, no RequestException, was a 500 on verify.
    settings = load_settings(koji_api_key="koji-test-key-0123")
    settings.koji_api_base_url = "http://a..b"  # assignment is not validated
    with pytest.raises(KojiUnavailable, match=r"^Koji's API could not be reached \(LocationParseError\)$"):
        fetch_interview("int_1", settings)


def test_a_command_reads_only_the_settings_it_uses(monkeypatch):
    # send-test-event and field-metadata were stopped by settings they never use.
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    monkeypatch.setenv("KOJI_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("QUALITY_THRESHOLD", "9")
    with pytest.raises(SettingsError):
        load_settings()
    assert load_settings(SenderSettings).koji_webhook_secret[0].get_secret_value() == "s"
    assert load_settings(MetadataSettings).salesforce_api_version == "v59.0"
    monkeypatch.setenv("SALESFORCE_API_VERSION", "59.0")
    with pytest.raises(SettingsError, match="SALESFORCE_API_VERSION"):
        load_settings(MetadataSettings)


def test_check_fields_reads_salesforces_settings_and_the_modes_rules_for_them_only(monkeypatch):
    # Found by a user-side audit: check-fields was stopped by "production mode needs
    # KOJI_WEBHOOK_SECRET and CONNECTOR_API_KEYS", or by QUALITY_THRESHOLD, which it never uses.
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    monkeypatch.setenv("QUALITY_THRESHOLD", "9")
    monkeypatch.setenv("SALESFORCE_DOMAIN_URL", "https://acme.my.salesforce.com")
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "sf-secret-0123")
    monkeypatch.setenv("HTTP_TIMEOUT_SECONDS", "7")
    settings = load_settings(CheckFieldsSettings)
    assert (settings.salesforce_domain_url, settings.http_timeout_seconds) == ("https://acme.my.salesforce.com", 7)
    # What production mode asks of Salesforce's settings it still asks, in the service's words.
    monkeypatch.setenv("SALESFORCE_DOMAIN_URL", "http://acme.my.salesforce.com")
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "s")
    with pytest.raises(SettingsError) as caught:
        load_settings(CheckFieldsSettings)
    assert str(caught.value) == (
        "SALESFORCE_CLIENT_SECRET must be at least 8 characters in production mode (the whole key, as Koji or "
        "Salesforce issued it); SALESFORCE_DOMAIN_URL must be https:// in production mode (http:// is accepted "
        "for this machine only: localhost, 127.0.0.1, ::1)")
    monkeypatch.setenv("HTTP_TIMEOUT_SECONDS", "61")
    with pytest.raises(SettingsError, match="HTTP_TIMEOUT_SECONDS"):
        load_settings(CheckFieldsSettings)


def test_every_production_problem_is_named_in_one_message(monkeypatch):
    monkeypatch.setenv("CONNECTOR_MODE", "production")
    monkeypatch.setenv("KOJI_API_KEY", "k")
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "s")
    monkeypatch.setenv("KOJI_API_BASE_URL", "http://koji.internal")
    monkeypatch.setenv("SALESFORCE_DOMAIN_URL", "http://acme.my.salesforce.com")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "production mode needs KOJI_WEBHOOK_SECRET and CONNECTOR_API_KEYS (comma-separated values allowed); "
        "KOJI_API_KEY and SALESFORCE_CLIENT_SECRET must be at least 8 characters in production mode (the whole "
        "key, as Koji or Salesforce issued it); "
        "KOJI_API_BASE_URL and SALESFORCE_DOMAIN_URL must be https:// in production mode (http:// is accepted "
        "for this machine only: localhost, 127.0.0.1, ::1)")


def test_several_bad_values_are_each_named_in_one_message(monkeypatch):
    monkeypatch.setenv("QUALITY_THRESHOLD", "9")
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == ("QUALITY_THRESHOLD: Input should be less than or equal to 5; "
                                 "LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'")

