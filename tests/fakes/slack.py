"""A fake Slack Web API: ``auth.test`` and ``chat.postMessage``, on loopback.

It refuses what Slack refuses, so a chain that passes here has a fair chance
on the real one (https://api.slack.com/methods/chat.postMessage):

* every answer is HTTP 200 with ``{"ok": false, "error": ...}`` on failure;
* no token → ``not_authed``; an unknown token → ``invalid_auth``
  (token from ``Authorization: Bearer`` or a ``token`` form/JSON field);
* unknown channel → ``channel_not_found`` (ids ``C…`` and names, with or without ``#``);
* neither ``text`` nor ``blocks``/``attachments`` → ``no_text``;
* ``blocks`` that break Block Kit's limits (https://api.slack.com/reference/block-kit/blocks)
  → ``invalid_blocks`` with Slack's ``errors`` list, one ``"<why> [json-pointer:<where>]"``
  each (Slack's wording for lengths, counts, required fields and schema mismatches;
  the few others, a bad URL or a value of the wrong JSON type, are this fake's own):
  more than 50 blocks; a block without ``type`` or of an unknown type; a ``block_id``
  over 255 characters; section text over 3,000, header text over 150 (plain_text
  only), a section with neither text nor fields, more than 10 fields or one over
  2,000; a context of more than 10 elements or an element text over 3,000; an
  actions block of more than 25 elements; a button without text, with text that is
  not plain_text or over 75 characters, or with a URL that has a space, no scheme or
  over 3,000 characters; a text object whose type is not plain_text/mrkdwn or whose
  text is empty;
* ``blocks`` that are not a JSON array → ``invalid_blocks_format``;
* ``text`` over 40,000 characters → ``msg_too_long``.

Accepted posts are recorded in :attr:`FakeSlack.posts`; every request in
:attr:`FakeSlack.requests`. :meth:`fail_next` injects HTTP errors (503, 429
with ``Retry-After``) or Slack errors (``error="ratelimited"`` …).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackServer

MAX_BLOCKS = 50
MAX_TEXT = 40_000
MAX_SECTION_TEXT = 3_000
MAX_HEADER_TEXT = 150
MAX_BUTTON_URL = 3_000
MAX_BUTTON_TEXT = 75
MAX_BLOCK_ID = 255
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3_000
MAX_ACTIONS_ELEMENTS = 25
TEXT_TYPES = ("plain_text", "mrkdwn")
# The blocks a message may carry (Block Kit reference, "Blocks"); any other type is refused.
BLOCK_TYPES = {"actions", "context", "context_actions", "divider", "file", "header", "image", "input",
               "markdown", "rich_text", "section", "table", "video"}


class FakeSlack(LoopbackServer):
    def __init__(self, token: str = "xoxb-test-token", channels: dict | None = None,
                 team: str = "Koji Test"):
        self.token = token
        # id → name; posts may name a channel by either.
        self.channels = channels or {"C0KOJI0001": "koji-insights"}
        self.team = team
        self.requests: list[dict] = []
        self.posts: list[dict] = []
        self._failures: list[dict] = []
        self._lock = threading.Lock()
        self._ts = 1_700_000_000

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    # -- test controls -----------------------------------------------------
    def fail_next(self, status: int = 503, times: int = 1, error: str | None = None,
                  method: str | None = None) -> None:
        """Fail the next ``times`` calls (of ``method``, e.g. ``chat.postMessage``).

        With ``error`` the answer is Slack's usual 200 ``{"ok": false, "error": error}``;
        otherwise an HTTP ``status`` (429 carries ``Retry-After: 1``).
        """
        with self._lock:
            self._failures.append({"status": status, "times": times, "error": error,
                                   "method": method})

    def wait_for_posts(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} Slack posts within {timeout}s, got {self.posts!r}")

    # -- behaviour ---------------------------------------------------------
    def _take_failure(self, method: str) -> dict | None:
        with self._lock:
            for failure in self._failures:
                if failure["method"] in (None, method):
                    failure["times"] -= 1
                    if failure["times"] <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def handle(self, method: str, headers: dict, params: dict) -> tuple[int, dict, dict]:
        """Answer one Web API call: (HTTP status, extra headers, JSON body)."""
        failure = self._take_failure(method)
        if failure and failure["error"]:
            return 200, {}, {"ok": False, "error": failure["error"]}
        if failure:
            extra = {"Retry-After": "1"} if failure["status"] == 429 else {}
            return failure["status"], extra, {"ok": False, "error": "service_unavailable"}

        auth_error = self._check_token(headers, params)
        if auth_error:
            return 200, {}, {"ok": False, "error": auth_error}
        if method == "auth.test":
            return 200, {}, {"ok": True, "url": "https://koji-test.slack.com/", "team": self.team,
                             "user": "koji-bot", "team_id": "T0KOJI", "user_id": "U0KOJIBOT",
                             "bot_id": "B0KOJIBOT"}
        if method == "chat.postMessage":
            return 200, {}, self._post_message(params)
        return 200, {}, {"ok": False, "error": "unknown_method"}

    def _check_token(self, headers: dict, params: dict) -> str | None:
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.get("token")
        if not token:
            return "not_authed"
        return None if token == self.token else "invalid_auth"

    def _channel_id(self, channel) -> str | None:
        if not isinstance(channel, str) or not channel:
            return None
        if channel in self.channels:
            return channel
        name = channel.lstrip("#")
        return next((cid for cid, cname in self.channels.items() if cname == name), None)

    def _post_message(self, params: dict) -> dict:
        channel = self._channel_id(params.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks) if blocks.strip() else None
            except ValueError:
                return {"ok": False, "error": "invalid_blocks_format"}
        if blocks is not None and not isinstance(blocks, list):
            return {"ok": False, "error": "invalid_blocks_format"}
        text = params.get("text")
        if not text and not blocks and not params.get("attachments"):
            return {"ok": False, "error": "no_text"}
        if isinstance(text, str) and len(text) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        errors = block_errors(blocks) if blocks else []
        if errors:
            return {"ok": False, "error": "invalid_blocks", "errors": errors,
                    "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}
        with self._lock:
            self._ts += 1
            ts = f"{self._ts}.000100"
            post = {"channel": channel, "text": text, "blocks": blocks, "ts": ts,
                    "params": params}
            self.posts.append(post)
        return {"ok": True, "channel": channel, "ts": ts,
                "message": {"type": "message", "text": text or "", "bot_id": "B0KOJIBOT",
                            "ts": ts, **({"blocks": blocks} if blocks else {})}}


def block_errors(blocks: list) -> list[str]:
    """Slack's ``errors`` for these blocks; empty when it takes them."""
    if len(blocks) > MAX_BLOCKS:
        return [_too_many(MAX_BLOCKS, "/blocks")]
    return [error for index, block in enumerate(blocks) for error in _block_errors(block, f"/blocks/{index}")]


def _block_errors(block, at: str) -> list[str]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [_missing("type", at)]
    if block["type"] not in BLOCK_TYPES:
        return [_no_schema(at)]
    errors = _length_errors(block["block_id"], MAX_BLOCK_ID, at + "/block_id") if "block_id" in block else []
    check = _BLOCK_CHECKS.get(block["type"])
    return errors + (check(block, at) if check else [])


def _section_errors(block: dict, at: str) -> list[str]:
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        return [_missing("text", at)]
    errors = [] if text is None else _text_errors(text, at + "/text", MAX_SECTION_TEXT)
    if fields is not None:
        errors += _list_errors(fields, MAX_FIELDS, at + "/fields", _field_errors)
    accessory = block.get("accessory")
    if isinstance(accessory, dict) and accessory.get("type") == "button":
        errors += _button_errors(accessory, at + "/accessory")
    return errors


def _field_errors(field, at: str) -> list[str]:
    return _text_errors(field, at, MAX_FIELD_TEXT)


def _header_errors(block: dict, at: str) -> list[str]:
    if "text" not in block:
        return [_missing("text", at)]
    return _text_errors(block["text"], at + "/text", MAX_HEADER_TEXT, types=("plain_text",))


def _context_errors(block: dict, at: str) -> list[str]:
    return _list_errors(block.get("elements"), MAX_CONTEXT_ELEMENTS, at + "/elements", _context_element_errors,
                        missing=_missing("elements", at))


def _context_element_errors(element, at: str) -> list[str]:
    if isinstance(element, dict) and element.get("type") == "image":
        return []
    return _text_errors(element, at, MAX_CONTEXT_TEXT)


def _actions_errors(block: dict, at: str) -> list[str]:
    return _list_errors(block.get("elements"), MAX_ACTIONS_ELEMENTS, at + "/elements", _action_element_errors,
                        missing=_missing("elements", at))


def _action_element_errors(element, at: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [_missing("type", at)]
    return _button_errors(element, at) if element["type"] == "button" else []


def _button_errors(button: dict, at: str) -> list[str]:
    if "text" not in button:
        return [_missing("text", at)]
    errors = _text_errors(button["text"], at + "/text", MAX_BUTTON_TEXT, types=("plain_text",))
    return errors + (_url_errors(button["url"], at + "/url") if "url" in button else [])


def _url_errors(url, at: str) -> list[str]:
    if isinstance(url, str) and len(url) > MAX_BUTTON_URL:
        return [_too_long(MAX_BUTTON_URL, at)]
    return [] if _button_url_valid(url) else [f"must be a valid URL [json-pointer:{at}]"]


_BLOCK_CHECKS = {"section": _section_errors, "header": _header_errors, "context": _context_errors,
                 "actions": _actions_errors}


def _text_errors(text, at: str, max_chars: int, types: tuple[str, ...] = TEXT_TYPES) -> list[str]:
    """A text object: {"type": one of ``types``, "text": 1 to ``max_chars`` characters}."""
    if not isinstance(text, dict) or text.get("type") not in types:
        return [_no_schema(at)]
    if "text" not in text:
        return [_missing("text", at)]
    return _length_errors(text["text"], max_chars, at + "/text")


def _length_errors(value, max_chars: int, at: str) -> list[str]:
    if not isinstance(value, str):
        return [f"must be a string [json-pointer:{at}]"]
    if not value:
        return [f"must be more than 0 characters [json-pointer:{at}]"]
    return [_too_long(max_chars, at)] if len(value) > max_chars else []


def _list_errors(items, max_items: int, at: str, check, missing: str | None = None) -> list[str]:
    if items is None and missing:
        return [missing]
    if not isinstance(items, list):
        return [f"must be an array [json-pointer:{at}]"]
    if len(items) > max_items:
        return [_too_many(max_items, at)]
    return [error for index, item in enumerate(items) for error in check(item, f"{at}/{index}")]


def _too_long(max_chars: int, at: str) -> str:
    return f"must be less than {max_chars + 1} characters [json-pointer:{at}]"


def _too_many(max_items: int, at: str) -> str:
    return f"no more than {max_items} items allowed [json-pointer:{at}]"


def _missing(name: str, at: str) -> str:
    return f"missing required field: {name} [json-pointer:{at}]"


def _no_schema(at: str) -> str:
    return f"failed to match all allowed schemas [json-pointer:{at}]"


def _button_url_valid(url) -> bool:
    # A button's url: at most 3,000 characters (Block Kit reference, button element), and a URL:
    # Slack refuses a message whose button carries a space or no scheme.
    return (isinstance(url, str) and 0 < len(url) <= MAX_BUTTON_URL
            and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", url) is not None)


def _parse_params(content_type: str, body: bytes, query: str) -> dict:
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    if not body:
        return params
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            return {**params, "_invalid_json": True}
        return {**params, **data} if isinstance(data, dict) else params
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {**params, **{k: v[-1] for k, v in form.items()}}


def _handler_for(fake: FakeSlack):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self._serve()

        def do_POST(self):
            self._serve()

        def _serve(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            params = _parse_params(headers.get("content-type", ""), body, url.query)
            method = url.path.rsplit("/", 1)[-1]
            fake.requests.append({"method": self.command, "path": url.path, "api": method,
                                  "headers": headers, "params": params, "body": body})
            if not url.path.startswith("/api/"):
                status, extra, answer = 404, {}, {"ok": False, "error": "unknown_method"}
            else:
                status, extra, answer = fake.handle(method, headers, params)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):  # keep pytest output clean
            pass

    return Handler
