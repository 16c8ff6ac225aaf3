"""Koji → Salesforce/Slack connector: verify research webhooks, map them to Salesforce fields."""
from __future__ import annotations

__all__ = ["create_app"]


def create_app(settings=None, **kwargs):
    """Build the Flask app (gunicorn: `gunicorn 'connector:create_app()'`)."""
    from connector.app import create_app as _create_app

    return _create_app(settings, **kwargs)
