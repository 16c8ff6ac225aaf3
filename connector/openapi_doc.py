"""Serve openapi.yaml (repository root) as one self-contained document.

The file references the payload JSON Schemas in `connector/schemas/` by relative path so
they are written once; clients fetching `/openapi.yaml` cannot follow such paths, so the
served copy inlines them under `components/schemas` (rewriting their internal `$defs`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from connector.validation import load_schema

# connector/openapi.yaml links to the repository root file; a built wheel carries a copy.
SPEC_PATH = Path(__file__).resolve().parent / "openapi.yaml"
_SCHEMA_PREFIX = "./connector/schemas/"


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    return yaml.safe_load(path.read_text("utf-8"))


def bundled_openapi_text(path: Path = SPEC_PATH) -> str:
    return yaml.safe_dump(bundle(load_spec(path)), sort_keys=False, allow_unicode=True)


def bundle(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    inlined: dict[str, str] = {}

    def visit(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_SCHEMA_PREFIX):
                return {**{k: visit(v) for k, v in node.items() if k != "$ref"},
                        "$ref": "#/components/schemas/" + _inline(ref[len(_SCHEMA_PREFIX):])}
            return {key: visit(value) for key, value in node.items()}
        if isinstance(node, list):
            return [visit(item) for item in node]
        return node

    def _inline(file_name: str) -> str:
        if file_name not in inlined:
            name = _component_name(file_name)
            inlined[file_name] = name
            schema = json.loads(json.dumps(load_schema(file_name)))
            for def_name, definition in schema.pop("$defs", {}).items():
                components[f"{name}_{def_name}"] = _rewrite_defs(definition, name)
            schema.pop("$schema", None)
            schema.pop("$id", None)
            components[name] = _rewrite_defs(schema, name)
        return inlined[file_name]

    return visit(spec)


def _component_name(file_name: str) -> str:
    stem = file_name.removesuffix(".schema.json")
    return "".join(part.capitalize() for part in stem.replace("_", "-").split("-"))


def _rewrite_defs(node: Any, owner: str) -> Any:
    if isinstance(node, dict):
        return {key: (f"#/components/schemas/{owner}_{value[len('#/$defs/'):]}"
                      if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/")
                      else _rewrite_defs(value, owner)) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_defs(item, owner) for item in node]
    return node
