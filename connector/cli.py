"""`connector` command: serve under gunicorn, send a signed test event, Salesforce tools."""
from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from connector import dev_secrets
from connector.ledger import LedgerUnusable
from connector.profile import Profile, ProfileError
from connector.profile_file import load_profile
from connector.salesforce_cli import register as register_salesforce_commands
from connector.services import open_ledger
from connector.settings import (
    DEFAULT_PORT, DEFAULT_WORKERS, WORKERS_PER_CORE, PortSettings, SenderSettings, Settings, SettingsError, load_settings,
    WorkersSettings, port_number, worker_count,
)

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
# Koji waits this long for the answer to a webhook: a receiver slower than that fails for Koji too.
SEND_TIMEOUT_SECONDS = 10
# The connector's own route for a signed body: the only URL the configured API key goes to unasked.
VERIFY_PATH = "/v1/koji/verify"
# The user the Docker image runs the connector as (Dockerfile, useradd --uid).
IMAGE_UID = 10001


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="connector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: %(default)s; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=_option(port_number),
                       help=f"TCP port, 0-65535 (default: PORT from the environment, else {DEFAULT_PORT})")
    serve.add_argument("--workers", type=_option(worker_count),
                       help=f"gunicorn worker processes, 1 to {WORKERS_PER_CORE} per CPU core (default: "
                       f"WEB_CONCURRENCY from the environment, else {DEFAULT_WORKERS})")
    serve.set_defaults(handler=_serve)

    test_event = commands.add_parser("send-test-event",
                                     help="POST a correctly signed sample event, like Koji's 'Send Test Event'")
    test_event.add_argument("--url", required=True, type=_web_url,
                            help="where Koji would deliver (n8n webhook, connector verify, …)")
    test_event.add_argument("--type", default="interview.analysis_ready", choices=sorted(SAMPLES))
    test_event.add_argument("--email", help="respondent e-mail to put in the sample")
    test_event.add_argument("--interview-id", help="the id the event is keyed by: the interview id, or the study or "
                            "report id for study.published / report.generated (default: the sample's; change it "
                            "to send the event again without the duplicate check)")
    test_event.add_argument("--secret", help="webhook secret (default: first of KOJI_WEBHOOK_SECRET, or the "
                            "development secret)")
    test_event.add_argument("--api-key", help="connector API key, sent as X-API-Key (default, for a URL ending in "
                            f"{VERIFY_PATH} only: first of CONNECTOR_API_KEYS, or the development key)")
    test_event.set_defaults(handler=_send_test_event)

    register_salesforce_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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


def _option(parse: Callable[[str], int]) -> Callable[[str], int]:
    """A setting's parser (connector.settings) as an argparse type: the same rule, the same words."""
    def parsed(text: str) -> int:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parsed


def _web_url(text: str) -> str:
    # The message leaves the URL out: it may hold a password or a token.
    try:
        parts = urlsplit(text)
    except ValueError:  # an unclosed [ of an IPv6 address
        parts = None
    # The host itself, not the netloc: "http://:8080/…" or "http://user@:8080/…" names a port and no host.
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError("must be an http:// or https:// URL with a host, "
                                         f"as http://127.0.0.1:8080{VERIFY_PATH}")
    return text


def _serve(args: argparse.Namespace) -> int:
    # Refused here, before gunicorn starts, each is one clear message and exit code 2.
    # Found by an audit: the Docker image passed "$WEB_CONCURRENCY" as --workers, so an empty
    # value was refused (empty is unset) and a bad one named --workers, which its user never typed.
    try:
        port = load_settings(PortSettings).port if args.port is None else args.port
        workers = load_settings(WorkersSettings).web_concurrency if args.workers is None else args.workers
    except SettingsError as exc:
        return _refused(f"configuration refused: {exc}")
    profile = _start_up_check()
    if isinstance(profile, str):
        return _refused(profile)
    settings = load_settings()
    try:
        # Create (and print) development secrets once, before the workers start and read them.
        generated = dev_secrets.fill_missing(settings)
    except dev_secrets.DevSecretsDamaged as exc:
        return _refused(f"configuration refused: {exc}")
    except OSError as exc:  # kept next to DATABASE_PATH, whose directory may not be writable
        return _refused(f"configuration refused: DATABASE_PATH {settings.database_path}: cannot keep the "
                        f"development secrets there ({exc.strerror or type(exc).__name__})")
    busy = _cannot_listen(args.host, port)
    if busy:
        return _refused(busy)
    from connector import metrics  # imports no prometheus_client: the workers do, once the variable is set
    if problem := metrics.multiprocess_dir_problem():
        return _refused(f"configuration refused: {problem}")
    if leftover := metrics.leftover_files():
        # The operator's directory is theirs to empty (it may be shared): said, not deleted.
        print(f"connector: warning: {metrics.MULTIPROC_ENV} holds {leftover} file(s) already; /metrics adds "
              "their counts to this run's (empty it before each start)", file=sys.stderr)
    dev_secrets.announce(generated, settings, every_start=True)
    from connector.server import run_gunicorn
    run_gunicorn(args.host, port, workers, settings.log_level, profile, _start_up_check)
    return 0


def _start_up_check() -> Profile | str:
    """The mapping profile the workers are to use, or what would stop them from starting, as one
    message. Asked before gunicorn starts, and again by its master before a reload (SIGHUP)."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        return f"configuration refused: {exc}"
    try:
        profile = load_profile(settings.mapping_profile)
        _open_database(settings)
    except ProfileError as exc:
        return f"mapping profile refused: {exc}"
    except LedgerUnusable as exc:
        return f"configuration refused: DATABASE_PATH: {exc}{_permission_hint(settings.database_path)}"
    return profile


def _cannot_listen(host: str, port: int) -> str | None:
    """A message if host:port cannot be listened on: another process listens there, or --host
    is no address of this machine (a mistyped "127.0.0.1:8080", "http://…", an unknown name).
    gunicorn would try five times over five seconds, log eleven errors and exit 1; this is one
    line and exit 2. (Bound the way gunicorn binds, SO_REUSEADDR included, so a port in
    TIME_WAIT is not taken for busy.)"""
    try:
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host.strip("[]"), port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"cannot listen on {host}:{port}: another process is listening there "
                    "(another connector serve?); stop it or pick another --port (or PORT)")
        # Found by an audit: these were gunicorn's five retries and exit 1.
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            reason += ("; --host takes an address or a name of this machine (127.0.0.1, 0.0.0.0, ::1), "
                       "without a scheme or a port (that is --port)")
        return f"cannot listen on {host}:{port}: {reason}"
    return None


def _refused(message: str) -> int:
    print(f"connector: {message}", file=sys.stderr)
    return 2


def _open_database(settings: Settings) -> None:
    """Open the ledger's database once, so a DATABASE_PATH that cannot be used stops start-up
    here rather than in every worker. Closed again before gunicorn forks: a SQLite connection
    must not cross a fork."""
    open_ledger(settings).close()


def _permission_hint(path: Path) -> str:
    """What to do when the database cannot be opened for lack of permission, or ""."""
    # SQLite writes its -wal and -shm files next to the database: the directory must be writable too.
    directory = next(parent for parent in path.absolute().parents if parent.exists())
    denied = next((place for place in ([path] if path.exists() else []) + [directory]
                   if not os.access(place, os.W_OK)), None)
    if denied is None:
        return ""
    return (f" (uid {os.getuid()}, which runs the connector, has no permission to write to {denied}; the Docker "
            f"image runs as uid {IMAGE_UID}, so a directory mounted for {directory} must be writable by that uid)")


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


class _NoSecret(Exception):
    """Nothing to sign with; the message says where to get a secret."""


def _send_test_event(args: argparse.Namespace) -> int:
    from connector.signatures import SIGNATURE_HEADER, sign

    try:
        secret, api_key = _credentials(args)
    except SettingsError as exc:
        return _refused(f"configuration refused: {exc}")
    except (dev_secrets.DevSecretsDamaged, _NoSecret) as exc:
        return _refused(str(exc))
    payload = personalized(sample_payload(args.type), args.type, email=args.email, event_id=args.interview_id)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret),
               "User-Agent": "connector-send-test-event"}
    if api_key:
        headers["X-API-Key"] = api_key
    return _post(args.url, body, headers)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    import requests
    from urllib3.exceptions import LocationValueError  # a host like a..b: not a RequestException

    try:
        # Not followed, as the connector follows none: a 307 would re-send the signed body and
        # the X-API-Key header to wherever its Location points.
        response = requests.post(url, data=body, headers=headers, timeout=SEND_TIMEOUT_SECONDS,
                                 allow_redirects=False)
    except requests.Timeout:
        print(f"connector: {_shown(url)} did not answer within {SEND_TIMEOUT_SECONDS:g} s, as long as Koji waits",
              file=sys.stderr)
        return 1
    except (requests.RequestException, LocationValueError) as exc:
        print(f"connector: could not reach {_shown(url)}: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"{response.status_code} {response.reason}")
    print(response.text[:20000])
    if response.is_redirect:
        print(f"connector: {_shown(url)} answered {response.status_code}, a redirect, which is not followed: "
              "give --url the address it redirects to", file=sys.stderr)
    elif response.status_code == 404 and urlsplit(url).path.endswith("/") and urlsplit(url).path != "/":
        # The connector's routes (and n8n's webhook paths) end without one: found by an audit.
        print(f"connector: {_shown(url)} answered 404, and it ends in a slash: try --url without the "
              "slash at the end", file=sys.stderr)
    return 0 if response.ok and not response.is_redirect else 1


def _shown(url: str) -> str:
    """`url` without credentials, query or fragment (a password, a token): scheme://host:port/path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _credentials(args: argparse.Namespace) -> tuple[str, str | None]:
    """The webhook secret to sign with and the API key to send: the options', else the first
    configured, else (development mode) the ones the service generated. Only what the sender
    needs is read, so a setting of the service's that is wrong or missing does not stop it."""
    wants_key = args.api_key is None and urlsplit(args.url).path.rstrip("/").endswith(VERIFY_PATH)
    if args.secret and not wants_key:
        # Nothing left to read: not even DATABASE_PATH (found by an audit: `:memory:` stopped it).
        return args.secret, args.api_key
    settings = load_settings(SenderSettings)
    secret = args.secret or _first(settings.koji_webhook_secret)
    api_key = args.api_key or (_first(settings.connector_api_keys) if wants_key else None)
    if settings.is_development and (not secret or (wants_key and not api_key)):
        stored = dev_secrets.stored(settings)
        secret = secret or stored.get("KOJI_WEBHOOK_SECRET")
        api_key = api_key or (stored.get("CONNECTOR_API_KEYS") if wants_key else None)
    if not secret:
        raise _NoSecret("no webhook secret: pass --secret or set KOJI_WEBHOOK_SECRET" + _where(settings))
    return secret, api_key


def _where(settings: SenderSettings) -> str:
    if not settings.is_development:
        return ""
    # DATABASE_PATH is relative to the directory the service runs in (scripts/serve.sh: the
    # repository), so from anywhere else the development secrets are not where we look.
    return (f" (no development secrets at {dev_secrets.secrets_path(settings).resolve()}: run this where the "
            "service runs, or set DATABASE_PATH as it has it)")


def _first(values: list) -> str | None:
    return values[0].get_secret_value() if values else None


if __name__ == "__main__":
    sys.exit(main())
