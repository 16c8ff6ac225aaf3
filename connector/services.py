"""What the views need, built once per app: settings, profile, ledger, pipeline, OpenAPI text."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from connector.errors import UpstreamUnavailable
from connector.koji_api import KojiApiError, KojiRefused, fetch_interview
from connector.ledger import Ledger
from connector.openapi_doc import bundled_openapi_text
from connector.pipeline import Pipeline
from connector.profile import Profile
from connector.profile_file import load_profile
from connector.salesforce import SalesforceClient
from connector.settings import Settings
from connector.validation import warm_up


@dataclass
class Services:
    settings: Settings
    profile: Profile
    ledger: Ledger
    pipeline: Pipeline
    _openapi: str | None = field(default=None, repr=False)
    _salesforce: SalesforceClient | None = field(default=None, repr=False)

    def openapi_text(self) -> str:
        if self._openapi is None:
            self._openapi = bundled_openapi_text()
        return self._openapi

    def salesforce_client(self) -> SalesforceClient:
        """One client per worker, so its OAuth token is reused rather than fetched per request."""
        if self._salesforce is None:
            self._salesforce = SalesforceClient.from_settings(self.settings)
        return self._salesforce


def build_services(settings: Settings, profile: Profile | None = None) -> Services:
    profile = profile or load_profile(settings.mapping_profile)
    warm_up("koji-webhook.schema.json", "koji-interview.schema.json")
    profile.warm_up()
    ledger = open_ledger(settings)
    threshold = (settings.quality_threshold if settings.quality_threshold is not None
                 else profile.quality_threshold)
    return Services(settings=settings, profile=profile, ledger=ledger, pipeline=Pipeline(
        profile=profile, quality_threshold=threshold, ledger=ledger,
        fetch_interview=_koji_fetcher(settings)))


def open_ledger(settings: Settings) -> Ledger:
    """The ledger DATABASE_PATH names, with the retention and lease of the settings."""
    return Ledger(settings.database_path, retention_seconds=settings.ledger_retention_days * 86400,
                  lease_seconds=settings.ledger_lease_seconds)


def _koji_fetcher(settings: Settings) -> Callable[[str], dict] | None:
    return partial(_fetch_interview, settings) if settings.koji_enrich else None


def _fetch_interview(settings: Settings, interview_id: str) -> dict:
    try:
        return fetch_interview(interview_id, settings)
    except KojiRefused:
        raise  # Koji's final answer: the pipeline answers from the webhook's own data
    except KojiApiError as exc:
        raise UpstreamUnavailable(f"Koji's API could not provide the interview: {exc}") from None
