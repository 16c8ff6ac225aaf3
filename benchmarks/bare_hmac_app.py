"""The baseline: a bare Flask endpoint that only checks the HMAC of the raw body.

The connector's verify endpoint is measured against this in the same run
(benchmarks/verify_benchmark.py), so the ratio shows what normalization, schema checks,
the ledger and mapping cost on top of the unavoidable work."""
import hashlib
import hmac
import os

from flask import Flask, request


def _secret() -> bytes:
    return os.environ["KOJI_WEBHOOK_SECRET"].split(",")[0].encode()


def _signature_matches(secret: bytes, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def create_app() -> Flask:
    secret = _secret()
    app = Flask(__name__)

    @app.post("/v1/koji/verify")
    def verify():
        if not _signature_matches(secret, request.get_data(), request.headers.get("X-Koji-Signature", "")):
            return {"error": "signature"}, 400
        return {"ok": True}

    return app


def create_wsgi_app():
    """The same check as a plain WSGI callable, no Flask: what the framework itself costs
    shows as the difference (benchmarks/stage_costs.py)."""
    secret = _secret()

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        ok = _signature_matches(secret, body, environ.get("HTTP_X_KOJI_SIGNATURE", ""))
        answer = b'{"ok":true}' if ok else b'{"error":"signature"}'
        start_response("200 OK" if ok else "400 BAD REQUEST",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
        return [answer]

    return app
