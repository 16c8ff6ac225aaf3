"""Configuration: the only module that reads the environment.

Every setting is an environment variable (see README's configuration table). Nothing is
read at import time: `load_settings()` is called by `create_app()` and the CLI.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


# A key that can be guessed is no key; and a log mask for a one-letter secret would mask
# that letter everywhere, which both garbles the lines and gives the secret away.
MIN_SECRET_CHARS = 16


class Mode(str, Enum):
    development = "development"
    production = "production"


class SettingsError(Exception):
    """Configuration that cannot run; the message names the variable, never its value."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    # An empty variable (`QUALITY_THRESHOLD=` in an .env file) means "not set": the default applies.
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", env_ignore_empty=True)

    connector_mode: Mode = Mode.development
    # Several comma-separated secrets are all accepted, so a secret can be rotated
    # without downtime: add the new one, switch Koji over, then drop the old one.
    koji_webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    connector_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    database_path: Path = Path("connector-state.sqlite3")
    ledger_retention_days: float = Field(default=7, gt=0)
    ledger_lease_seconds: float = Field(default=60, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    quality_threshold: float | None = Field(default=None, ge=0, le=5)
    mapping_profile: Path | None = None

    http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    koji_enrich: bool = False
    koji_api_base_url: str = "https://koji.so"
    koji_api_key: SecretStr | None = None

    salesforce_domain_url: str | None = None
    salesforce_client_id: str | None = None
    salesforce_client_secret: SecretStr | None = None
    salesforce_api_version: str = "v59.0"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("koji_webhook_secret", "connector_api_keys", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("connector_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs(self) -> "Settings":
        """Settings that only work together: refused at start-up, not on the first event."""
        problems = []
        if self.connector_mode is Mode.production:
            missing = [name for name, value in (
                ("KOJI_WEBHOOK_SECRET", self.koji_webhook_secret),
                ("CONNECTOR_API_KEYS", self.connector_api_keys),
            ) if not value]
            if missing:
                problems.append("production mode needs " + " and ".join(missing)
                                + " (comma-separated values allowed)")
            short = [name for name, values in (
                ("KOJI_WEBHOOK_SECRET", self.koji_webhook_secret),
                ("CONNECTOR_API_KEYS", self.connector_api_keys),
            ) if any(len(value.get_secret_value()) < MIN_SECRET_CHARS for value in values)]
            if short:
                problems.append(" and ".join(short) + f" must be at least {MIN_SECRET_CHARS} characters each in "
                                "production mode (a long random string: `openssl rand -hex 32`)")
        if self.koji_enrich and self.koji_api_key is None:
            problems.append("KOJI_ENRICH=true needs KOJI_API_KEY (the key of Koji's API)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_development(self) -> bool:
        return self.connector_mode is Mode.development


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and `overrides`); raise SettingsError naming what is wrong."""
    try:
        return Settings(**overrides)
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
