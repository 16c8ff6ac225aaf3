"""`connector` command: serve under gunicorn, send a signed test event, Salesforce tools."""
from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path

from connector import dev_secrets
from connector.salesforce_cli import register as register_salesforce_commands
from connector.profile import ProfileError, load_profile
from connector.settings import SettingsError, load_settings

SAMPLES = {
    "interview.analysis_ready": "salesforce-guide.analysis_ready.json",
    "interview.completed": "automation.interview_completed.json",
    "interview.quality_scored": "quality_scored.json",
    "interview.failed_quality_gate": "failed_quality_gate.json",
    "anonymous": "anonymous.analysis_ready.json",
    "study.published": "study.published.json",
    "report.generated": "report.generated.json",
    "ping": "ping.json",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="connector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=_at_least_one, default=2)
    serve.set_defaults(handler=_serve)

    test_event = commands.add_parser("send-test-event",
                                     help="POST a correctly signed sample event, like Koji's 'Send Test Event'")
    test_event.add_argument("--url", required=True, help="where Koji would deliver (n8n webhook, connector verify, …)")
    test_event.add_argument("--type", default="interview.analysis_ready", choices=sorted(SAMPLES))
    test_event.add_argument("--email", help="respondent e-mail to put in the sample")
    test_event.add_argument("--interview-id", help="the id the event is keyed by: the interview id, or the study or "
                            "report id for study.published / report.generated (default: the sample's; change it "
                            "to send the event again without the duplicate check)")
    test_event.add_argument("--secret", help="webhook secret (default: first of KOJI_WEBHOOK_SECRET)")
    test_event.add_argument("--api-key", help="connector API key, sent as X-API-Key (for the connector's own URL)")
    test_event.set_defaults(handler=_send_test_event)

    register_salesforce_commands(commands)
    args = parser.parse_args(argv)
    try:
        status = args.handler(args)
        sys.stdout.flush()  # a reader that left shows here, where it can still be caught
    except BrokenPipeError:
        return _reader_gone()
    return status


def _reader_gone() -> int:
    """`connector … | head -1`: the reader took what it wanted; end without a traceback.

    As https://docs.python.org/3/library/signal.html#note-on-sigpipe advises: stdout goes
    to /dev/null so the flush at exit does not fail again, and the exit code is 1. SIGPIPE
    is not reset to its default instead: send-test-event and check-fields write to sockets,
    and a peer that closes one would then kill the command without a word."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


def _at_least_one(text: str) -> int:
    # gunicorn takes --workers 0 and then listens without a worker to answer.
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"connector: configuration refused: {exc}", file=sys.stderr)
        return 2
    try:  # refused here, before gunicorn starts, it is one clear message and exit code 2
        load_profile(settings.mapping_profile)
    except ProfileError as exc:
        print(f"connector: mapping profile refused: {exc}", file=sys.stderr)
        return 2
    # Create (and print) development secrets once, before the workers start and read them.
    try:
        generated = dev_secrets.fill_missing(settings)
    except OSError as exc:  # kept next to DATABASE_PATH, whose directory may not be writable
        print(f"connector: configuration refused: DATABASE_PATH {settings.database_path}: "
              f"cannot keep the development secrets there ({exc.strerror or type(exc).__name__})",
              file=sys.stderr)
        return 2
    dev_secrets.announce(generated, settings, every_start=True)
    from connector.server import run_gunicorn
    run_gunicorn(args.host, args.port, args.workers, settings.log_level)
    return 0


def sample_payload(event_type: str) -> dict:
    text = resources.files("connector.samples").joinpath(SAMPLES[event_type]).read_text("utf-8")
    return json.loads(text)


# The id that keys each sample event (events._event_key): --interview-id replaces it.
_KEY_FIELDS = {"study.published": "study_id", "report.generated": "report_id"}


def personalized(payload: dict, event_type: str, *, email: str | None, event_id: str | None) -> dict:
    """The sample with `email` wherever it carries the respondent's e-mail (the person's own
    e-mail wins over data.respondent_email, so both are set), and `event_id` as the id its
    event key is made of."""
    data = payload.setdefault("data", {})
    if email:
        data["respondent_email"] = email
        for person in ("respondent", "participant"):
            if isinstance(data.get(person), dict):
                data[person]["email"] = email
    if event_id:
        data[_KEY_FIELDS.get(event_type, "interview_id")] = event_id
    return payload


def _send_test_event(args: argparse.Namespace) -> int:
    import requests

    from connector.signatures import SIGNATURE_HEADER, sign

    secret, looked_at = (args.secret, None) if args.secret else _configured_secret()
    if not secret:
        # DATABASE_PATH is relative to the directory the service runs in (scripts/serve.sh: the
        # repository), so from anywhere else the development secrets are not where we look.
        where = (f" (no development secrets at {looked_at.resolve()}: run this where the service runs, "
                 "or set DATABASE_PATH as it has it)") if looked_at else ""
        print(f"connector: no webhook secret: pass --secret or set KOJI_WEBHOOK_SECRET{where}", file=sys.stderr)
        return 2
    payload = personalized(sample_payload(args.type), args.type, email=args.email, event_id=args.interview_id)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret),
               "User-Agent": "connector-send-test-event"}
    if args.api_key:
        headers["X-API-Key"] = args.api_key
    try:
        response = requests.post(args.url, data=body, headers=headers, timeout=30)
    except requests.RequestException as exc:
        print(f"connector: could not reach {args.url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"{response.status_code} {response.reason}")
    print(response.text[:20000])
    return 0 if response.ok else 1


def _configured_secret() -> tuple[str | None, Path | None]:
    """The webhook secret to sign with, and where development secrets were looked for."""
    try:
        settings = load_settings()
    except SettingsError:
        return None, None
    if settings.koji_webhook_secret:
        return settings.koji_webhook_secret[0].get_secret_value(), None
    if not settings.is_development:
        return None, None
    path = dev_secrets.secrets_path(settings)
    return (json.loads(path.read_text())["KOJI_WEBHOOK_SECRET"] if path.exists() else None), path

if __name__ == "__main__":
    sys.exit(main())
