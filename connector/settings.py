"""Configuration: the only module that reads the environment.

Every setting is an environment variable (see README's configuration table). Nothing is
read at import time: `load_settings()` is called by `create_app()` and the CLI. Commands that
need a few settings only read those (`load_settings(SenderSettings)`, `MetadataSettings`,
`CheckFieldsSettings`), so a setting they never use cannot stop them.
"""
from __future__ import annotations

import ipaddress
import os
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


# A key that can be guessed is no key; and a log mask for a one-letter secret would mask
# that letter everywhere, which both garbles the lines and gives the secret away.
MIN_SECRET_CHARS = 16
# Keys that Koji and Salesforce issue: their length is the issuer's choice, not ours, so the
# floor only stops a placeholder ("x") and the log mask it would make.
MIN_ISSUED_SECRET_CHARS = 8
_API_VERSION = re.compile(r"v\d+\.\d")


class Mode(str, Enum):
    development = "development"
    production = "production"


class SettingsError(Exception):
    """Configuration that cannot run; the message names the variable, never its value."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _url_problem(url: str) -> str | None:
    """Why `url` cannot be the base of the calls made to it, or None. Never quotes the URL:
    it may hold credentials."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range is a ValueError
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host name"
    if parts.query or parts.fragment:
        return "must not have a query or a fragment: the connector appends paths to it"
    try:  # what urllib3 does before it connects (a..b has an empty label): refused now, not per call
        parts.hostname.encode("idna")
    except UnicodeError:
        return "has a host name with an empty or too long label"
    return None


def _expanded(value: Path | None) -> Path | None:
    """`value` with a leading ~ expanded. systemd's Environment=, an env file, compose's .env
    and a quoted shell value all pass the ~ on as it is, and the connector then made a
    directory named ~ where it ran, while the user looked in their home."""
    if value is None or not str(value).startswith("~"):
        return value
    try:
        return value.expanduser()
    except RuntimeError:  # no HOME and no such user: pathlib's "Could not determine home directory"
        raise ValueError("starts with ~, but this user's home directory is not known here: "
                         "give the full path") from None


def _header_problem(values: list[SecretStr]) -> str | None:
    """Why keys sent in an HTTP header cannot work, or None. Never quotes a key."""
    # Past ASCII, a header's bytes depend on the client (curl and Go send UTF-8, requests and
    # Node Latin-1): such a key matched some callers and answered 401 to the others.
    if any(not (text.isascii() and text.isprintable()) for text in (v.get_secret_value() for v in values)):
        return ("must be printable ASCII (letters, digits, punctuation): a key travels in an HTTP header, "
                "whose other characters each client encodes its own way")
    return None


def _utf8_problem(values: list[SecretStr]) -> str | None:
    """Why secrets used as their UTF-8 bytes cannot be, or None. Never quotes a secret."""
    for value in values:
        try:
            value.get_secret_value().encode("utf-8")
        except UnicodeEncodeError:  # bytes the environment held that are not UTF-8 (Latin-1, say)
            return ("is not UTF-8 text: set it as Koji or Salesforce shows it, from a UTF-8 file or shell "
                    "(its bytes in another encoding cannot be used)")
    return None


def _refused_if(value: Any, problem: str | None) -> Any:
    """`value` for a validator to return, or the ValueError pydantic-settings names the variable in."""
    if problem:
        raise ValueError(problem)
    return value


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Environment(BaseSettings):
    # An empty variable (`QUALITY_THRESHOLD=` in an .env file) means "not set": the default applies.
    # nan passes no bound check (every comparison is false) and inf passes a lower one.
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", env_ignore_empty=True,
                                      allow_inf_nan=False)


class _ModeSettings(_Environment):
    """CONNECTOR_MODE, and the settings that only work together (checked once every field is read)."""

    connector_mode: Mode = Mode.development

    @field_validator("connector_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def is_development(self) -> bool:
        return self.connector_mode is Mode.development

    @model_validator(mode="after")
    def _needs(self) -> "_ModeSettings":
        """Settings that only work together: refused at start-up, not on the first event."""
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _problems(self) -> list[str]:
        return []


class SenderSettings(_ModeSettings):
    """What `connector send-test-event` reads: the mode, the secrets, and DATABASE_PATH, next
    to which development secrets are kept."""

    # Several comma-separated secrets are all accepted, so a secret can be rotated
    # without downtime: add the new one, switch Koji over, then drop the old one.
    koji_webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    connector_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    database_path: Path = Path("connector-state.sqlite3")

    @field_validator("database_path")
    @classmethod
    def _a_file(cls, value: Path) -> Path:
        value = _expanded(value)
        # SQLite's name for a private database: each worker and thread would get its own, empty
        # one, so copies of an event would all count as new and nothing would survive a restart.
        if str(value) == ":memory:":
            raise ValueError("must be a file's path: ':memory:' would give every worker a ledger of its own")
        return value

    @field_validator("koji_webhook_secret", "connector_api_keys", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("connector_api_keys")
    @classmethod
    def _header_values(cls, value: list[SecretStr]) -> list[SecretStr]:
        return _refused_if(value, _header_problem(value))

    @field_validator("koji_webhook_secret")
    @classmethod
    def _utf8(cls, value: list[SecretStr]) -> list[SecretStr]:
        # The HMAC key is the secret's UTF-8 bytes, as Koji's own example (Node's createHmac
        # with a string) makes it; a secret that has none was a 500 on every webhook.
        return _refused_if(value, _utf8_problem(value))


class MetadataSettings(_Environment):
    """What `connector salesforce field-metadata` reads."""

    mapping_profile: Path | None = None
    salesforce_api_version: str = "v59.0"

    @field_validator("mapping_profile")
    @classmethod
    def _home(cls, value: Path | None) -> Path | None:
        return _expanded(value)

    @field_validator("salesforce_api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        # It becomes a path segment (/services/data/v59.0/…) and the metadata's sourceApiVersion.
        if not _API_VERSION.fullmatch(value):
            raise ValueError("must be an API version as Salesforce writes it: v, then the number (v59.0)")
        return value


# `connector serve` without --port / --workers.
DEFAULT_PORT, DEFAULT_WORKERS = 8080, 2
# gunicorn advises 2 sync workers per core, plus one; a few more help while workers wait on
# Koji or Salesforce. Beyond this, each added worker (a process of its own) only competes for
# the cores and memory, and a slip of the finger (1000) would fork a thousand of them.
WORKERS_PER_CORE = 4


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on (a container's --cpuset-cpus)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def port_number(text: str) -> int:
    """`text` as a TCP port; ValueError saying what it must be."""
    # gunicorn takes any number and then fails in bind() with an OverflowError traceback.
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise ValueError(f"must be a port number from 0 to 65535, not {text!r}")
    return int(text)


def worker_count(text: str) -> int:
    """`text` as a number of gunicorn workers for this machine; ValueError saying what it must be."""
    # gunicorn takes --workers 0 and then listens without a worker to answer.
    cores = usable_cores()
    most = WORKERS_PER_CORE * cores
    number = int(text) if text.isascii() and text.isdigit() else None
    if number is None or not 1 <= number <= most:
        why = (f" ({WORKERS_PER_CORE} per CPU core, and this machine gives the connector {cores}: more workers "
               "would only compete for them and for memory)") if number and number > most else ""
        raise ValueError(f"must be a whole number from 1 to {most}, not {text!r}{why}")
    return number


class PortSettings(_Environment):
    """What `connector serve` reads when --port is not given: PORT, as gunicorn and most
    hosting platforms read it (the Docker image sets it). Read only then: a PORT left in the
    shell cannot stop a command that names its port."""

    port: int = DEFAULT_PORT

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: object) -> object:
        return port_number(value.strip()) if isinstance(value, str) and value.strip() else DEFAULT_PORT


class WorkersSettings(_Environment):
    """What `connector serve` reads when --workers is not given: WEB_CONCURRENCY (as PORT)."""

    web_concurrency: int = DEFAULT_WORKERS

    @field_validator("web_concurrency", mode="before")
    @classmethod
    def _workers(cls, value: object) -> object:
        return worker_count(value.strip()) if isinstance(value, str) and value.strip() else DEFAULT_WORKERS


class CheckFieldsSettings(_ModeSettings, MetadataSettings):
    """What `connector salesforce check-fields` reads: the profile, Salesforce's settings, the
    timeout of a call, and the mode, whose rules for them it keeps."""

    http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    salesforce_domain_url: str | None = None
    salesforce_client_id: str | None = None
    salesforce_client_secret: SecretStr | None = None

    @field_validator("salesforce_domain_url")
    @classmethod
    def _domain_url(cls, value: str | None) -> str | None:
        # A My Domain URL has no path: the token is asked for at /services/oauth2/token from the
        # root, so a pasted page's URL (…/lightning/page/home) was Salesforce's 404, reported as
        # refused credentials.
        with_a_path = ("must be your My Domain URL alone, without a path (https://yourcompany.my.salesforce.com): "
                       "the connector adds /services/… to it")
        return _refused_if(value, value and (_url_problem(value) or (urlsplit(value).path.strip("/") and with_a_path)))

    @field_validator("salesforce_client_secret")
    @classmethod
    def _utf8_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _refused_if(value, value and _utf8_problem([value]))

    def _problems(self) -> list[str]:
        if self.connector_mode is not Mode.production:
            return []
        return _production_problems(ours={}, issued={"SALESFORCE_CLIENT_SECRET": self.salesforce_client_secret},
                                    urls={"SALESFORCE_DOMAIN_URL": self.salesforce_domain_url})


class Settings(SenderSettings, CheckFieldsSettings):
    # The upper bounds refuse what cannot be meant (1e300 days). Koji's retries span about 2.5
    # hours: a lease longer than that keeps an event whose chain died claimed past the last one.
    # At least 3 hours: Koji retries for about 2.5, and may deliver again after a 200; a key
    # forgotten sooner would let such a copy do the work twice.
    ledger_retention_days: float = Field(default=7, ge=0.125, le=3650)
    ledger_lease_seconds: float = Field(default=60, gt=0, le=86400)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    quality_threshold: float | None = Field(default=None, ge=0, le=5)

    koji_enrich: bool = False
    koji_api_base_url: str = "https://koji.so"
    koji_api_key: SecretStr | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("koji_api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _refused_if(value, _url_problem(value))

    @field_validator("koji_api_key")
    @classmethod
    def _header_value(cls, value: SecretStr | None) -> SecretStr | None:
        return _refused_if(value, value and _header_problem([value]))  # sent as `Authorization: Bearer <key>`

    def _problems(self) -> list[str]:
        problems = []
        if self.connector_mode is Mode.production:
            problems = _production_problems(
                ours={"KOJI_WEBHOOK_SECRET": self.koji_webhook_secret, "CONNECTOR_API_KEYS": self.connector_api_keys},
                issued={"KOJI_API_KEY": self.koji_api_key, "SALESFORCE_CLIENT_SECRET": self.salesforce_client_secret},
                urls={"KOJI_API_BASE_URL": self.koji_api_base_url, "SALESFORCE_DOMAIN_URL": self.salesforce_domain_url})
        if self.koji_enrich and self.koji_api_key is None:
            problems.append("KOJI_ENRICH=true needs KOJI_API_KEY (the key of Koji's API)")
        return problems


def _production_problems(ours: dict[str, list[SecretStr]], issued: dict[str, SecretStr | None],
                         urls: dict[str, str | None]) -> list[str]:
    """What production mode refuses: `ours` (secrets the operator makes) missing or short,
    `issued` (keys Koji or Salesforce issued) short, `urls` in plain http to another machine."""
    problems = []
    missing = [name for name, values in ours.items() if not values]
    if missing:
        problems.append("production mode needs " + " and ".join(missing) + " (comma-separated values allowed)")
    short = _too_short(ours, MIN_SECRET_CHARS)
    if short:
        problems.append(" and ".join(short) + f" must be at least {MIN_SECRET_CHARS} characters each in "
                        "production mode (a long random string: `openssl rand -hex 32`)")
    short = _too_short({name: [value] for name, value in issued.items() if value}, MIN_ISSUED_SECRET_CHARS)
    if short:
        problems.append(" and ".join(short) + f" must be at least {MIN_ISSUED_SECRET_CHARS} characters in "
                        "production mode (the whole key, as Koji or Salesforce issued it)")
    # Plain http would carry KOJI_API_KEY or the client secret in clear; to this machine,
    # it never crosses a network.
    plain = [name for name, url in urls.items() if url and urlsplit(url).scheme != "https" and not _is_loopback(url)]
    if plain:
        problems.append(" and ".join(plain) + " must be https:// in production mode (http:// is accepted "
                        "for this machine only: localhost, 127.0.0.1, ::1)")
    return problems


def _too_short(secrets: dict[str, list[SecretStr]], minimum: int) -> list[str]:
    """The names of `secrets` with a value shorter than `minimum`."""
    return [name for name, values in secrets.items() if any(len(v.get_secret_value()) < minimum for v in values)]


AnySettings = TypeVar("AnySettings", bound=_Environment)


def load_settings(kind: type[AnySettings] = Settings, /, **overrides: object) -> AnySettings:
    """Read the environment (and `overrides`) into `kind`, the service's whole Settings unless
    a command needs fewer; raise SettingsError naming what is wrong."""
    try:
        return kind(**overrides)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors():
        # The message only, never the input: it may be a secret. Our own checks raise
        # ValueError, which pydantic reports as "Value error, <message>".
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        name = "_".join(str(p) for p in error.get("loc", ())).upper()
        # Without a name, the error is one of the checks above, whose message names the variables.
        parts.append(f"{name}: {message}" if name else message)
    return "; ".join(parts)
