"""The baseline: a bare Flask endpoint that only checks the HMAC of the raw body.

The connector's verify endpoint is measured against this in the same run
(benchmarks/verify_benchmark.py), so the ratio shows what normalization, schema checks,
the ledger and mapping cost on top of the unavoidable work."""
import hashlib
import hmac
import os

from flask import Flask, request


def create_app() -> Flask:
    secret = os.environ["KOJI_WEBHOOK_SECRET"].split(",")[0].encode()
    app = Flask(__name__)

    @app.post("/v1/koji/verify")
    def verify():
        expected = "sha256=" + hmac.new(secret, request.get_data(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Koji-Signature", "")):
            return {"error": "signature"}, 400
        return {"ok": True}

    return app
