"""JSON in and out with orjson: parsing the webhook and writing the (several-kB) answer
are a measurable share of the verify path (docs/benchmarks.md), and orjson does both
about ten times faster than the standard library, with the same strictness
(no NaN/Infinity, UTF-8 only)."""
from __future__ import annotations

from typing import Any

import orjson
from flask import Flask, Response
from flask.json.provider import JSONProvider


def loads(raw: bytes | str) -> Any:
    """Raise ValueError (orjson.JSONDecodeError) for anything that is not strict JSON."""
    return orjson.loads(raw)


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode("utf-8")

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(orjson.dumps(obj), mimetype="application/json")


def init_app(app: Flask) -> None:
    app.json = OrjsonProvider(app)
