"""Salesforce source-format metadata for the custom fields a profile writes.

One ``force-app/main/default/objects/Contact/fields/<Name>.field-meta.xml`` per custom
field (Metadata API ``CustomField``,
https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/customfield.htm),
so an admin deploys exactly what the connector sends with
``cd <out> && sf project deploy start --source-dir force-app``; ``sf`` needs the
``sfdx-project.json`` written next to ``force-app`` when the folder has none. Output is deterministic: the same
profile always writes the same bytes.
"""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from xml.etree import ElementTree as ET

from connector.profile import FieldSpec, Profile

NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
METADATA_TYPES = {"text": "Text", "textarea": "LongTextArea", "url": "Url", "email": "Email",
                  "picklist": "Picklist", "multipicklist": "MultiselectPicklist", "number": "Number",
                  "checkbox": "Checkbox", "datetime": "DateTime", "date": "Date"}


# A Long Text Area holds 256 to 131,072 characters; Salesforce refuses a shorter one. A profile
# textarea of 255 characters or fewer is written as a (short) Text Area, which holds 255.
LONG_TEXT_AREA_MIN = 256


def _is_short_text_area(spec: FieldSpec) -> bool:
    return spec.type == "textarea" and (spec.max_length or 0) < LONG_TEXT_AREA_MIN


def _metadata_type(spec: FieldSpec) -> str:
    return "TextArea" if _is_short_text_area(spec) else METADATA_TYPES[spec.type]


def _label(spec: FieldSpec) -> str:
    return spec.label or _label_of(spec.name)


def _label_of(name: str) -> str:
    """Setup's default label: the API name without namespace or suffix, "_" as spaces."""
    return name.removesuffix("__c").rpartition("__")[2].replace("_", " ")


def is_ours_to_create(name: str) -> bool:
    # A standard field exists already; a field with a namespace (ns__Field__c) belongs to a
    # managed package, and the Metadata API creates components only in the org's own namespace.
    return name.endswith("__c") and "__" not in name.removesuffix("__c")


def _value_set(values: list[str]) -> list[tuple[str, object]]:
    # Restricted: Salesforce then refuses what the mapping would never send anyway.
    definition = [("sorted", "false")] + [
        ("value", [("fullName", value), ("default", "false"), ("label", value)]) for value in values]
    return [("restricted", "true"), ("valueSetDefinition", definition)]


def _type_parts(spec: FieldSpec) -> list[tuple[str, object]]:
    kind = spec.type
    if kind == "text":
        return [("length", str(spec.max_length)), ("required", "false"), ("unique", "false")]
    if kind == "textarea":
        if _is_short_text_area(spec):
            return [("required", "false")]  # Text Area: 255 characters, no length of its own
        return [("length", str(spec.max_length)), ("visibleLines", str(spec.visible_lines or 5))]
    if kind == "number":
        return [("precision", str(spec.precision)), ("required", "false"), ("scale", str(spec.scale)),
                ("unique", "false")]
    if kind == "checkbox":
        return [("defaultValue", "false")]
    if kind == "picklist":
        return [("required", "false"), ("valueSet", _value_set(spec.values))]
    if kind == "multipicklist":
        return [("required", "false"), ("valueSet", _value_set(spec.values)),
                ("visibleLines", str(spec.visible_lines or 4))]
    return [("required", "false")]  # url, email, datetime, date


def _element(parent: ET.Element, name: str, content: object) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(content, list):
        for sub_name, sub_content in content:
            _element(child, sub_name, sub_content)
    else:
        child.text = str(content)


def field_xml(spec: FieldSpec, external_id: bool = False) -> bytes:
    """The ``.field-meta.xml`` document of one custom field."""
    root = ET.Element("CustomField", xmlns=NAMESPACE)
    parts = [("fullName", spec.name), ("externalId", "true" if external_id else "false"),
             ("label", _label(spec)), *_type_parts(spec), ("type", _metadata_type(spec))]
    # Metadata elements are conventionally sorted by name, as `sf project retrieve` writes them.
    for name, content in sorted(parts, key=lambda part: part[0]):
        _element(root, name, content)
    ET.indent(root, space="    ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _lookup_specs(profile: Profile) -> list[FieldSpec]:
    """The custom fields the lookups read, as the fields the profile does not write itself would
    be created: an External ID text field, and an Email field for a custom e-mail lookup."""
    specs = []
    looked_up = profile.looked_up_fields
    if "external_id" in looked_up:
        name = looked_up["external_id"]
        specs.append(FieldSpec(name=name, type="text", length=255, label=_label_of(name),
                               source="respondent.external_id"))
    if looked_up.get("email", "").endswith("__c"):
        name = looked_up["email"]
        specs.append(FieldSpec(name=name, type="email", label=_label_of(name), source="respondent.email"))
    return specs


def fields_not_created(profile: Profile) -> list[str]:
    """The fields the profile writes or looks up by that get no file: they exist already."""
    looked_up = profile.looked_up_fields
    names = dict.fromkeys([spec.name for spec in profile.all_fields] +
                          [looked_up[strategy] for strategy in ("external_id", "email") if strategy in looked_up])
    return [name for name in names if not is_ours_to_create(name)]


def _project_file(out_dir: Path, api_version: str) -> None:
    path = out_dir / "sfdx-project.json"
    if path.exists():
        return  # an existing Salesforce project keeps its own settings
    project = {"name": "koji-connector-fields", "namespace": "", "sourceApiVersion": api_version.lstrip("v"),
               "packageDirectories": [{"path": "force-app", "default": True}]}
    path.write_text(json.dumps(project, indent=2) + "\n", encoding="utf-8")


def _specs_to_create(profile: Profile) -> list[tuple[FieldSpec, bool]]:
    """(field, is the External ID lookup field) for each custom field the profile writes or looks up by."""
    # API names ignore case: a lookup field the profile also writes is one field, one file.
    specs = {spec.name.lower(): spec for spec in profile.all_fields}
    for spec in _lookup_specs(profile):
        specs.setdefault(spec.name.lower(), spec)
    external = profile.looked_up_fields.get("external_id", "").lower()
    return [(spec, key == external) for key, spec in specs.items() if is_ours_to_create(spec.name)]


def write_field_metadata(profile: Profile, out_dir: str | os.PathLike, api_version: str = "v59.0") -> list[Path]:
    """Write one file per custom field the profile writes (standard fields exist already). With
    none, nothing at all: `sf project deploy start` refuses a tree without a component."""
    to_create = _specs_to_create(profile)
    if not to_create:
        return []
    folder = Path(out_dir) / "force-app" / "main" / "default" / "objects" / profile.sobject / "fields"
    folder.mkdir(parents=True, exist_ok=True)
    _project_file(Path(out_dir), api_version)
    written = []
    for spec, external_id in to_create:
        path = folder / f"{spec.name}.field-meta.xml"
        path.write_bytes(field_xml(spec, external_id=external_id))
        written.append(path)
    return written


def next_steps(written: list[Path], out_dir: str | os.PathLike) -> str:
    """What the admin does with what `write_field_metadata` wrote (docs/mapping.md, Creating the fields)."""
    if not written:
        # Found by an audit: "0 field(s) written. Deploy with: …", a deploy that fails on an empty tree.
        return ("Nothing to deploy: every field the profile writes or looks up by exists already. Check that\n"
                "the integration user may edit them: `connector salesforce check-fields`.")
    deploy = f"cd {shlex.quote(str(out_dir))} && sf project deploy start --source-dir force-app --target-org <alias>"
    return (f"{len(written)} field(s) written. Then:\n"
            f"  1. deploy them: {deploy}\n"
            "  2. give the integration user edit access to them with a permission set (it can only write\n"
            "     fields it may edit)\n"
            "  3. run `connector salesforce check-fields` to check them all")
