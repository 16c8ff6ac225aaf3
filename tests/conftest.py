import json
import logging
import time
from importlib import resources

import pytest
import requests
from pydantic import SecretStr

from connector import create_app
from connector.settings import Settings
from connector.signatures import sign

API_KEY = "ck_unit_key_0123456789"
SECRETS = ["whsec_current_0123456789", "whsec_previous_0123456789"]


def sample_bytes(name: str) -> bytes:
    return resources.files("connector.samples").joinpath(name).read_bytes()


def sample(name: str) -> dict:
    return json.loads(sample_bytes(name))


@pytest.fixture
def settings(tmp_path):
    return Settings(connector_mode="production", koji_webhook_secret=[SecretStr(s) for s in SECRETS],
                    connector_api_keys=[SecretStr(API_KEY)], database_path=tmp_path / "state.sqlite3")


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.testing = True
    yield app
    # Its background thread would outlive the test and find tmp_path deleted ("ledger file …
    # was deleted or replaced", written at exit, at times to a closed stderr).
    app.extensions["connector"].ledger.close()


@pytest.fixture
def client(app):
    return app.test_client()


class Koji:
    """Posts to the connector the way Koji (through a raw-forwarding chain) would."""

    def __init__(self, client):
        self.client = client

    def deliver(self, body: bytes | dict, *, secret: str = SECRETS[0], signature: str | None = None,
                api_key: str | None = API_KEY, path: str = "/v1/koji/verify"):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json",
                   "X-Koji-Signature": signature if signature is not None else sign(raw, secret)}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        return self.client.post(path, data=raw, headers=headers)


@pytest.fixture
def koji(client):
    return Koji(client)


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def new_york_time(monkeypatch):
    """The server's local time zone is not UTC: nothing may read it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def gunicorn_loggers():
    """gunicorn's Logger sets up the process-wide gunicorn.* loggers: they are put back after."""
    loggers = [logging.getLogger(name) for name in ("gunicorn.error", "gunicorn.access")]
    saved = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    yield
    for logger, (handlers, propagate, level) in zip(loggers, saved):
        for handler in set(logger.handlers) - set(handlers):
            handler.close()
        logger.handlers[:], logger.propagate = handlers, propagate
        logger.setLevel(level)


@pytest.fixture
def sent_requests(monkeypatch):
    """Every request made through requests.Session, as (url, keyword arguments), then sent on."""
    sent, send = [], requests.Session.request

    def recording(self, method, url, **kwargs):
        sent.append((url, kwargs))
        return send(self, method, url, **kwargs)
    monkeypatch.setattr(requests.Session, "request", recording)
    return sent
