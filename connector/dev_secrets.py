"""Development mode: generate the webhook secret and API key once and keep them.

They are stored next to the state database (mode 0600) so every gunicorn worker and every
restart uses the same values; the process that creates them prints them once.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

from pydantic import SecretStr

from connector.settings import SenderSettings, Settings

_NAMES = ("KOJI_WEBHOOK_SECRET", "CONNECTOR_API_KEYS")


class DevSecretsDamaged(Exception):
    """The development secrets file exists but cannot be read, or does not hold both secrets;
    the message names the file and what to do."""


def secrets_path(settings: SenderSettings) -> Path:
    return settings.database_path.with_name(settings.database_path.name + ".dev-secrets.json")


def stored(settings: SenderSettings) -> dict[str, str]:
    """The development secrets kept for `settings` ({} before the service first made them)."""
    path = secrets_path(settings)
    return _read(path) if path.exists() else {}


def fill_missing(settings: Settings) -> dict[str, str]:
    """Fill missing secrets of a development-mode `settings`; return the ones created now."""
    if not settings.is_development or (settings.koji_webhook_secret and settings.connector_api_keys):
        return {}
    values, created = _load_or_create(secrets_path(settings))
    filled = {}
    if not settings.koji_webhook_secret:
        settings.koji_webhook_secret = [SecretStr(values["KOJI_WEBHOOK_SECRET"])]
        filled["KOJI_WEBHOOK_SECRET"] = values["KOJI_WEBHOOK_SECRET"]
    if not settings.connector_api_keys:
        settings.connector_api_keys = [SecretStr(values["CONNECTOR_API_KEYS"])]
        filled["CONNECTOR_API_KEYS"] = values["CONNECTOR_API_KEYS"]
    # Only what is used: a generated secret printed next to one set in the environment would
    # be taken for the one in force.
    return filled if created else {}


def announce(generated: dict[str, str], settings: Settings, *, every_start: bool = False) -> None:
    """Print the banner with the values generated now; with `every_start`, on later starts in
    development mode a line that says so (without the values, printed when they were made)."""
    # Resolved: DATABASE_PATH is relative to where the service runs, which the reader of the
    # banner may not know (or think of a ~ the service did not expand), and must find the file.
    path = secrets_path(settings).resolve()
    if not generated:
        if every_start and settings.is_development:
            print(f"connector: DEVELOPMENT MODE, not for production; secrets that are not set come from {path}",
                  file=sys.stderr, flush=True)
        return
    lines = ["", "=" * 72, " DEVELOPMENT MODE — not for production (set CONNECTOR_MODE=production)",
             " Generated once and stored in " + str(path) + ":"]
    lines += [f"   {name}={value}" for name, value in generated.items()]
    lines += ["=" * 72, ""]
    print("\n".join(lines), file=sys.stderr, flush=True)


def _load_or_create(path: Path) -> tuple[dict[str, str], bool]:
    values = {"KOJI_WEBHOOK_SECRET": "whsec_dev_" + secrets.token_hex(16),
              "CONNECTOR_API_KEYS": "ck_dev_" + secrets.token_hex(16)}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several workers starting at once, exactly one creates the file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path), False
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values, True


def _read(path: Path) -> dict[str, str]:
    for _ in range(50):  # the creator may still be writing
        try:
            return _checked(json.loads(path.read_text("utf-8")), path)
        except ValueError:  # also a UnicodeDecodeError
            time.sleep(0.02)
        except OSError as exc:
            raise DevSecretsDamaged(f"the development secrets file {path} cannot be read "
                                    f"({exc.strerror or type(exc).__name__})") from None
    raise DevSecretsDamaged(_damaged(path, "is not JSON"))


def _checked(values: object, path: Path) -> dict[str, str]:
    if not (isinstance(values, dict) and all(isinstance(values.get(name), str) and values[name] for name in _NAMES)):
        raise DevSecretsDamaged(_damaged(path, "does not hold " + " and ".join(_NAMES)))
    return values


def _damaged(path: Path, why: str) -> str:
    # New secrets mean a new webhook secret for Koji and a new key for the chain.
    return (f"the development secrets file {path} {why}: delete it, and the next `connector serve` generates "
            "new ones (then give Koji and your chain the new values)")
