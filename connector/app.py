"""create_app(): wiring only. `gunicorn 'connector:create_app()'` or `connector serve`."""
from __future__ import annotations

import sys

from flask import Flask

from connector import dev_secrets, errors, json_codec, logs, metrics, routes
from connector.ledger import LedgerUnusable
from connector.profile import Profile, ProfileError
from connector.services import build_services
from connector.settings import Settings, SettingsError, load_settings


def create_app(settings: Settings | None = None, *, profile: Profile | None = None) -> Flask:
    if settings is None:
        settings = _settings_or_exit()
    app = Flask(__name__)
    try:
        # Before the ledger opens, whose thread purges (and counts) a second later; and before
        # the other hooks: after_request hooks run last-registered first, so it counts the
        # answer the others leave.
        metrics.init_app(app)
    except metrics.MetricsUnusable as exc:
        _exit(f"configuration refused: {exc}")
    try:
        services = build_services(settings, profile)
    except ProfileError as exc:
        _exit(f"mapping profile refused: {exc}")
    except LedgerUnusable as exc:
        _exit(f"configuration refused: DATABASE_PATH: {exc}")
    # After the ledger: it creates DATABASE_PATH's directory, where these secrets are kept,
    # or refuses a path that cannot be used before anything tries to write next to it.
    generated = dev_secrets.fill_missing(settings)
    dev_secrets.announce(generated, settings)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    json_codec.init_app(app)
    app.extensions["connector"] = services
    logs.init_app(app, settings.log_level, _secret_values(settings))
    errors.init_app(app)
    routes.init_app(app)
    return app


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        _exit(f"configuration refused: {exc}")


# gunicorn's exit code for "the application could not be loaded": a worker that exits with it
# stops the whole server. With any other code gunicorn starts a new worker, which fails the
# same way, again and again, while the port stays open.
APP_LOAD_ERROR = 4


def _exit(message: str):
    print(f"connector: {message}", file=sys.stderr, flush=True)
    raise SystemExit(APP_LOAD_ERROR)


def _secret_values(settings: Settings) -> list[str]:
    values = [s.get_secret_value() for s in settings.koji_webhook_secret + settings.connector_api_keys]
    for optional in (settings.koji_api_key, settings.salesforce_client_secret):
        if optional is not None:
            values.append(optional.get_secret_value())
    return values
