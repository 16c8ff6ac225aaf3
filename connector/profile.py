"""The mapping profile: which Koji values go to which Salesforce fields, and how.

A profile is a YAML file (see docs/mapping.md) read into these pydantic models by
connector/profile_file.py (`load_profile`, which tells mistakes on their lines). Everything
that can be checked without Salesforce is checked at load time, so a typo in a field
type, a source path or a Liquid template stops the service at start instead of
dropping values later. Errors name the file and the line (found through the YAML
node marks), never a value from an event.
"""
from __future__ import annotations

import difflib
import math
import re
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, get_args

import yaml
from liquid import RenderContext
from liquid.builtin.expressions import LoopExpression, Path as LiquidPath
from liquid.exceptions import LiquidError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from connector.templates import FIELD_TEMPLATES, TEMPLATES

DEFAULT_PROFILE = Path(__file__).parent / "profiles" / "default.yaml"

EVENT_TYPES = ("interview.completed", "interview.analysis_ready", "interview.quality_scored",
               "interview.failed_quality_gate", "study.published", "report.generated")
Action = Literal["update_contact", "notify", "skip"]
LookupStrategy = Literal["contact_id", "external_id", "email"]
FieldType = Literal["text", "textarea", "url", "picklist", "multipicklist", "number", "checkbox",
                    "datetime", "date", "email"]
# Salesforce names the same types differently in Setup, describe and metadata. Percent and
# Currency fields take plain numbers (95 for 95 %), so they are `number` fields here.
TYPE_ALIASES = {"string": "text", "long text": "textarea", "long_text": "textarea", "longtextarea": "textarea",
                "long text area": "textarea", "text area (long)": "textarea", "text area": "textarea",
                "double": "number", "int": "number", "percent": "number", "currency": "number",
                "boolean": "checkbox", "date/time": "datetime",
                "multi-select picklist": "multipicklist", "multiselectpicklist": "multipicklist",
                "picklist (multi-select)": "multipicklist"}
# Setup's plain Text Area holds 255 characters: that name, with no length, means a textarea of 255.
SHORT_TEXT_AREA, SHORT_TEXT_AREA_LENGTH = "text area", 255
# Setup's names of types the connector has no type of its own for, and what to write instead.
TYPE_ADVICE = {"phone": "a Phone field holds text: write type: text with length: 40",
               "integer": "Salesforce has no Integer field; a whole number is a Number with 0 decimal places: "
                          "write type: number (its scale is 0 unless you give one)"}
# What an error about a type lists: the connector's names, then Setup's that are easy to miss.
SETUP_TYPE_NAMES = ("Text Area", "Long Text Area", "Date/Time", "Picklist (Multi-Select)", "Percent", "Currency")
# The Salesforce type each Koji structured question type fits into.
# The picklist values a yes/no answer (true, false) is written as, the first the picklist has:
# many orgs keep such answers in a Yes/No picklist rather than a checkbox.
YES_WORDS, NO_WORDS = ("yes", "true"), ("no", "false")
QUESTION_FIELD_TYPES = {"scale": "number", "yes_no": "checkbox", "single_choice": "picklist",
                        "multiple_choice": "multipicklist", "ranking": "text", "open_ended": "textarea"}
# Upper bounds Salesforce sets per type (Setup refuses longer fields).
MAX_LENGTHS = {"text": 255, "textarea": 131072, "url": 255, "email": 80, "picklist": 255}
PICKLIST_VALUE_LENGTH = 255  # each value of a picklist or multi-select picklist (Setup refuses longer)
MAX_PICKLIST_VALUES = 1000  # values of a restricted picklist, as field-metadata creates it
VISIBLE_LINES = {"textarea": (2, 50), "multipicklist": (3, 10)}  # what Setup offers per type
# A label or a picklist value is one line of text: XML 1.0 cannot hold most control
# characters, and a picklist value cannot hold a line break.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
DEFAULT_LENGTHS = {"text": 255, "textarea": 32768, "url": 255, "email": 80, "picklist": 255}
# The keys that change what a field of each type gets: any other is refused, since an admin
# who writes `values:` on a text field believes it restricts the field, and it would not.
KEYS_OF_TYPE = {"length": set(MAX_LENGTHS), "visible_lines": {"textarea", "multipicklist"},
                "separator": {"text", "textarea"}, "values": {"picklist", "multipicklist"},
                **dict.fromkeys(("precision", "scale", "min", "max"), {"number"})}
SLACK_TEMPLATE_NAMES = ("updated_contact", "skipped", "report", "study", "contact_not_found")
# What a template or a source path may read: the normalized answer (docs/design.md).
ANSWER_KEYS = {
    "event": {"type", "key", "occurred_at", "test"},
    "interview": {"id", "study_id", "study_title", "project_id", "status", "analysis_status", "quality_score",
                  "completed_at", "transcript_url", "interaction_mode", "stats", "metadata"},
    "respondent": {"id", "email", "name", "company", "external_id", "salesforce_contact_id", "attributes"},
    "analysis": {"themes", "sentiment", "sentiment_scores", "quote", "summary", "structured_answers",
                 "structured_answers_summary"},
    "study": {"id", "title", "url"},
    "report": {"id", "study_id", "title", "url", "summary", "metrics"},
    "action": set(), "skip_reason": set(), "reason": set(),
    # Only Slack templates see the salesforce block: it is what the mapping produced.
    "salesforce": {"sobject", "lookup", "lookups", "keep_newer", "fields", "skipped", "warnings"},
}
# Objects whose keys Koji does not fix: any sub-key is allowed below them.
FREE_FORM = {"stats", "metadata", "attributes", "sentiment_scores", "metrics", "structured_answers_summary",
             "lookup", "keep_newer", "fields"}
# Lists, of text or of objects. Liquid reads a list's items ([0], .first, .last, a for loop)
# and its length (.size), nothing else; a source only walks objects.
TEXT_LIST_KEYS = {"themes"}
OBJECT_LIST_KEYS = {"structured_answers", "skipped", "warnings", "lookups"}
# The keys of the objects in each list, as events.py (a structured answer) and mapping.py (the
# salesforce block) make them. A structured answer's value is a number, yes/no, text or a list
# by its question's type, and Koji does not fix its follow-up insights: any key below those.
ITEM_KEYS = {
    "structured_answers": {"question_id", "question_text", "question_type", "value", "qualitative_answer",
                           "confidence", "follow_up_insights"},
    "lookups": {"strategy", "field", "value", "soql"},
    "skipped": {"field", "reason"},
    "warnings": {"field", "message"},
}
FREE_FORM_ITEM_KEYS = {"structured_answers": {"value", "follow_up_insights"}}
# Plain values that are not text; every other key above holds text (or null). Liquid's .size
# is a string's length and gives nothing on these.
NUMBER_KEYS = {"quality_score", "confidence"}
FLAG_KEYS = {"test"}
# A Salesforce field API name: an optional namespace ("ns__"), then letters, digits and single
# underscores (no double underscore, none at the end), then "__c" for a custom field.
API_NAME = re.compile(r"(?:[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__)?[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*(?:__c)?")
# Setup takes at most 40 characters for a field's own name (without namespace and "__c").
MAX_NAME_CHARS = 40


def _api_name(name: str) -> str:
    """A name Salesforce takes as a field's API name, or a refusal in words (a pattern's own
    message would quote the regular expression)."""
    if not API_NAME.fullmatch(name):  # fullmatch: a pattern ending in "$" lets a final newline in
        raise ValueError("not a Salesforce API name: letters, digits and single underscores, starting with a "
                         "letter and not ending in an underscore; a custom field ends in __c (Interview_Themes__c)")
    if len(name.removesuffix("__c").rsplit("__", 1)[-1]) > MAX_NAME_CHARS:
        raise ValueError(f"a field name holds at most {MAX_NAME_CHARS} characters before __c "
                         "(Salesforce Setup refuses a longer one): shorten it")
    return name


# Checked on the value itself, so a refusal is told at the line that names the field (a score's
# `field:` too, not the `scores:` block that builds the field from it).
ApiName = Annotated[str, AfterValidator(_api_name)]
# The refusal of a field that reads the salesforce block, by source or by template: the block
# is made from the fields, so it is empty while they are read.
SALESFORCE_IS_OUTPUT = ("salesforce is what the mapping produces, not part of the event: "
                        "only Slack templates read it")


class ProfileError(Exception):
    """A profile that cannot be used; the message names the file, the line and the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Shape(Enum):
    """What a place in the answer holds, as far as a path can walk below it."""
    BLOCK = "an object"  # a top-level block: its keys are in ANSWER_KEYS
    ITEM = "an item of a list of objects"  # its keys are in ITEM_KEYS, by the list's key
    FREE_FORM = "a free-form object"
    TEXT_LIST = "a list of text"
    OBJECT_LIST = "a list of objects"
    TEXT = "text"
    NUMBER = "a number"
    FLAG = "true or false"


def check_paths(paths: list[list], *, in_liquid: bool = True) -> None:
    """Refuse a path into the answer that cannot exist (a typo, a key below a plain value or a
    list), before any event comes. A path is a list of segments, as Liquid's
    global_variable_segments gives them: keys, list indexes, or a nested path for a key read
    from a variable. ``in_liquid`` allows what only Liquid reads: a list's items and lengths."""
    for segments in paths:
        _walk(_Place(_root_shape(segments[0])), segments, in_liquid)


class _Place(NamedTuple):
    """What a place in the answer holds; ``owner`` is the key of the list an item is of."""
    shape: _Shape
    owner: str | None = None


def _root_shape(root: object) -> _Shape:
    if not isinstance(root, str) or root not in ANSWER_KEYS:
        raise ValueError(f"unknown name {_liquid_path([root])!r} (known: {', '.join(sorted(ANSWER_KEYS))})")
    return _Shape.BLOCK if ANSWER_KEYS[root] else _Shape.TEXT


def _walk(place: _Place, segments: list, in_liquid: bool) -> _Place:
    """What ``segments[1:]`` reads below ``segments[0]``, which holds ``place``."""
    shape, owner = place
    for depth in range(1, len(segments)):
        if shape is _Shape.FREE_FORM:
            break  # Koji does not fix what is below: any key may be there
        shape = _shape_below(shape, segments[:depth], segments[depth], in_liquid, owner)
        if shape in (_Shape.TEXT_LIST, _Shape.OBJECT_LIST):
            owner = segments[depth]
    return _Place(shape, owner)


def _shape_below(shape: _Shape, walked: list, segment: object, in_liquid: bool, owner: str | None = None) -> _Shape:
    """What ``segment`` reads below the place ``walked`` leads to; ValueError when it can never
    read anything there."""
    if shape is _Shape.BLOCK:
        return _key_of_block(walked[0], segment)
    if shape is _Shape.ITEM:
        return _key_of_item(str(owner), walked, segment)
    if shape in (_Shape.TEXT_LIST, _Shape.OBJECT_LIST):
        return _item_of_list(shape, walked, segment, in_liquid)
    if shape is _Shape.TEXT and in_liquid and segment == "size":
        return _Shape.NUMBER  # Liquid's length of a string
    place = _liquid_path(walked)
    size = f", or its length with {place}.size" if shape is _Shape.TEXT and in_liquid else ""
    raise ValueError(f"{place} is {shape.value}, not an object: {_liquid_path([*walked, segment])} can never have "
                     f"a value; read {place} itself{size}")


def _key_of_block(root: str, segment: object) -> _Shape:
    if isinstance(segment, list):
        return _Shape.FREE_FORM  # a key read from a variable: only an event can tell which
    if segment not in ANSWER_KEYS[root]:
        raise ValueError(f"{root} has no key {segment!r}")
    if segment in TEXT_LIST_KEYS:
        return _Shape.TEXT_LIST
    if segment in OBJECT_LIST_KEYS:
        return _Shape.OBJECT_LIST
    if segment in FREE_FORM:
        return _Shape.FREE_FORM
    if segment in NUMBER_KEYS:
        return _Shape.NUMBER
    return _Shape.FLAG if segment in FLAG_KEYS else _Shape.TEXT


def _key_of_item(owner: str, walked: list, segment: object) -> _Shape:
    if isinstance(segment, list) or segment in FREE_FORM_ITEM_KEYS.get(owner, ()):
        return _Shape.FREE_FORM  # a key read from a variable, or a value Koji does not fix
    if segment not in ITEM_KEYS[owner]:
        raise ValueError(f"{_liquid_path(walked)} has no key {segment!r}; its keys: "
                         f"{', '.join(sorted(ITEM_KEYS[owner]))}")
    return _Shape.NUMBER if segment in NUMBER_KEYS else _Shape.TEXT


def _item_of_list(shape: _Shape, walked: list, segment: object, in_liquid: bool) -> _Shape:
    place = _liquid_path(walked)
    if not in_liquid:
        # A source walks objects by key only: below a list it finds nothing, on every event.
        instead = (f"name {place} itself (its items are joined)" if shape is _Shape.TEXT_LIST
                   else "map a structured answer with question_id")
        raise ValueError(f"{place} is {shape.value}: a source cannot read inside a list; {instead}, "
                         f"or pick an item in a template ({place}.first, a for loop)")
    if segment == "size":
        return _Shape.NUMBER
    if segment in ("first", "last") or not isinstance(segment, str):  # an index, written or from a variable
        return _Shape.TEXT if shape is _Shape.TEXT_LIST else _Shape.ITEM
    raise ValueError(f"{place} is {shape.value}: {_liquid_path([*walked, segment])} can never have a value; read an "
                     f"item ({place}[0], {place}.first, {place}.last or a for loop) or the count ({place}.size)")


def _liquid_path(segments: list) -> str:
    """A path as a template writes it: analysis.themes[0], respondent.attributes['plan name']."""
    text = ""
    for segment in segments:
        if isinstance(segment, list):
            text += f"[{_liquid_path(segment)}]"
        elif isinstance(segment, int):
            text += f"[{segment}]"
        elif re.fullmatch(r"[A-Za-z_][\w-]*", str(segment)):
            text += f".{segment}" if text else str(segment)
        else:
            text += f"[{segment!r}]"
    return text


def check_source(path: str) -> None:
    """Refuse a field's source path that could never give it a value: a typo, an object, a key
    below a list or a plain value, or the salesforce block (the mapping's own output, made
    after the fields are read)."""
    parts = path.split(".")
    if parts[0] == "salesforce":
        raise ValueError(SALESFORCE_IS_OUTPUT)
    check_paths([parts], in_liquid=False)
    if len(parts) == 1 and ANSWER_KEYS[parts[0]]:
        raise ValueError(f"{path} is an object, not a value: name one of its keys "
                         f"({', '.join(sorted(ANSWER_KEYS[path]))})")
    # A template may walk into an object, but a field cannot take one whole: no converter
    # writes one, so it would be left out on every event, or sent as Python's repr of it.
    if len(parts) == 2 and parts[1] == "structured_answers":
        raise ValueError(f"{path} is a list of answers, not a value: map one answer with question_id")
    if len(parts) == 2 and parts[1] in FREE_FORM:  # the salesforce block's are refused above
        raise ValueError(f"{path} is an object, not a value: name a key inside it ({path}.<key>)")


def compile_template(source: str, environment=TEMPLATES):
    """Parse a Liquid template and check the names it reads; raise ValueError when bad.
    `environment`: FIELD_TEMPLATES for a field's value, TEMPLATES (the default) for Slack's."""
    if not source.strip():
        raise ValueError("the template is empty: it could never give a value")
    try:
        template = environment.from_string(source)
        # Liquid only looks filters up while rendering; a typo must not wait for an event.
        unknown = sorted(set(template.filter_names()) - set(environment.filters))
        segments = template.global_variable_segments()
    except LiquidError as exc:
        raise ValueError(f"Liquid: {liquid_message(exc)}") from None
    if unknown:
        raise ValueError(f"Liquid: unknown filter {unknown[0]!r}")
    check_paths(segments)
    check_loop_variables(template)
    return template


class _LoopItem(NamedTuple):
    """What a loop's variable holds: an item of the list it walks, and the loop as written."""
    place: _Place
    loop: str


def check_loop_variables(template) -> None:
    """Check what a template reads through the variable of a for or tablerow loop against the
    items of the list the loop walks (a theme is text, a structured answer has known keys).
    global_variable_segments leaves such names out, as the template's own; this follows the
    scopes the same way: a loop's variable is its own inside its block (not in its else), and
    hides an outer loop's variable or a top-level name of the same name. A variable whose items
    cannot be known (a range, an object, a name the template assigns) is not checked."""
    assigned = set(template.analyze(include_partials=False).locals)  # assign, capture, increment
    context = RenderContext(template)

    def visit(node, bound: dict[str, _LoopItem | None]) -> None:
        for expression in node.expressions():
            _check_bound_paths(expression, bound)
        loop = getattr(node, "expression", None)
        if isinstance(loop, LoopExpression):  # for and tablerow
            item = _loop_item(node, loop, bound, assigned)
            inner = {**bound, **dict.fromkeys(map(str, node.block_scope())), loop.identifier: item}
            visit(node.block, inner)
            if getattr(node, "default", None) is not None:  # for's else: the variable is not bound
                visit(node.default, bound)
            return
        inner = {**bound, **dict.fromkeys(map(str, node.block_scope()))}
        for child in node.children(context, include_partials=False):
            visit(child, inner)

    for node in template.nodes:
        visit(node, {})


def _loop_item(node, loop: LoopExpression, bound: dict[str, _LoopItem | None], assigned: set[str]) -> _LoopItem | None:
    if not isinstance(loop.iterable, LiquidPath):
        return None  # a range (1..3) or a literal: its items are no place in the answer
    segments = _path_segments(loop.iterable)
    root = segments[0]
    if root in bound:  # a list inside an outer loop's item
        outer = bound[root]
        if outer is None:
            return None
        place = _walk(outer.place, segments, True)
    elif root in assigned or root not in ANSWER_KEYS:
        return None  # the template's own value, or a name the global check has refused
    else:
        place = _walk(_Place(_root_shape(root)), segments, True)
    if place.shape not in (_Shape.TEXT_LIST, _Shape.OBJECT_LIST):
        return None  # an object's pairs, text, a free-form value: only an event can tell
    item = _Shape.TEXT if place.shape is _Shape.TEXT_LIST else _Shape.ITEM
    return _LoopItem(_Place(item, place.owner), f"{node.token.value} {loop.identifier} in {_liquid_path(segments)}")


def _check_bound_paths(expression, bound: dict[str, _LoopItem | None]) -> None:
    """Check each path in ``expression`` that starts with a loop's variable (nested ones too:
    respondent.attributes[q.question_id])."""
    if isinstance(expression, LiquidPath):
        segments = _path_segments(expression)
        item = bound.get(segments[0]) if isinstance(segments[0], str) else None
        if item is not None:
            try:
                _walk(item.place, segments, True)
            except ValueError as exc:
                raise ValueError(f"{item.loop}: {exc}") from None
    if scope := expression.scope():  # names an expression binds for its parts hide a loop's
        bound = {**bound, **dict.fromkeys(map(str, scope))}
    for child in expression.children():
        _check_bound_paths(child, bound)


def _path_segments(path: LiquidPath) -> list:
    """A path's segments as global_variable_segments gives them: a nested path as a list."""
    return [_path_segments(segment) if isinstance(segment, LiquidPath) else segment for segment in path.path]


def check_field_template(template) -> None:
    """Refuse a field's template that reads the salesforce block: fields are rendered before
    it exists, so it is always empty there (only Slack templates come after)."""
    if any(segments[0] == "salesforce" for segments in template.global_variable_segments()):
        raise ValueError(SALESFORCE_IS_OUTPUT)


def liquid_message(exc: LiquidError) -> str:
    # Liquid appends the template source with a caret; the first line is the reason.
    return str(exc).splitlines()[0]


def shown_setting(value: object) -> str:
    """A value of the profile in a message, cut short: it is the admin's own text, never an event's."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a block of keys"
    return "a list" if isinstance(value, list) else "text"


def _canonical_type(name: str) -> str:
    return TYPE_ALIASES.get(name.strip().lower(), name.strip().lower())


def _unknown_type(value: object) -> str:
    """Why a field's type is refused, with what to write instead."""
    accepted = (f"The types: {', '.join(get_args(FieldType))}, or Salesforce's own names for them "
                f"({', '.join(SETUP_TYPE_NAMES)}, ...)")
    if value is None:
        return f"the field has no type. {accepted}"
    if not isinstance(value, str):
        return f"a type is a name, not {kind_of(value)}. {accepted}"
    advice = TYPE_ADVICE.get(value.strip().lower())
    if advice is not None:
        return f"{shown_setting(value)} is not a field type the connector writes. {advice[0].upper()}{advice[1:]}. {accepted}"
    closest = difflib.get_close_matches(value.strip().lower(), [*get_args(FieldType), *TYPE_ALIASES], n=1)
    hint = f" (did you mean {closest[0]!r}?)" if closest else ""
    return f"{shown_setting(value)} is not a field type the connector writes{hint}. {accepted}"


def _as_yaml_list(text: str) -> str:
    """Comma-separated text written as a YAML flow list, each item quoted where YAML would not
    read it back as that text (Yes, 1, a: b)."""
    items = [item.strip() for item in re.split(r"[,;]", text) if item.strip()]
    return "[" + ", ".join(item if _reads_as_itself(item) else "'" + item.replace("'", "''") + "'"
                           for item in items) + "]"


def _reads_as_itself(item: str) -> bool:
    try:
        return yaml.safe_load(f"[{item}]") == [item]
    except yaml.YAMLError:
        return False


class FieldSpec(_Strict):
    name: ApiName
    type: FieldType
    label: str | None = Field(default=None, min_length=1, max_length=40)  # Setup's limit for a field label
    length: int | None = Field(default=None, ge=1)
    precision: int = Field(default=18, ge=1, le=18)
    scale: int = Field(default=0, ge=0, le=17)
    min: float | None = None
    max: float | None = None
    values: list[str] = Field(default_factory=list)
    visible_lines: int | None = Field(default=None, ge=1, le=50)
    separator: str = ", "
    source: str | list[str] | None = None
    question_id: str | None = None
    question_type: Literal["scale", "yes_no", "single_choice", "multiple_choice", "ranking",
                           "open_ended"] | None = None
    template: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _alias(cls, value: object) -> object:
        # Told here rather than by pydantic's list of literals: an admin writes Setup's name of
        # the type (Phone, Integer), and needs to hear what to write instead.
        canonical = _canonical_type(value) if isinstance(value, str) else None
        if canonical not in get_args(FieldType):
            raise PydanticCustomError("field_type", "{reason}", {"reason": _unknown_type(value)})
        return canonical

    @field_validator("source")
    @classmethod
    def _paths_give_values(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value == []:
            raise ValueError("source lists no path: it could never give a value")
        for path in [value] if isinstance(value, str) else value or []:
            check_source(path)
        return value

    @field_validator("label")
    @classmethod
    def _label_is_a_line(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("a label cannot be blank")
        if value is not None and _CONTROL_CHARACTERS.search(value):
            raise ValueError("a label is one line of text: no line breaks, tabs or control characters")
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _values_are_text(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError(f"the values are a list, not one text: write values: {_as_yaml_list(value)} "
                             "(or one '- value' line each, below values:)")
        if isinstance(value, list) and any(not isinstance(item, str) for item in value):
            raise ValueError("picklist values are text: quote them in the YAML ('Yes', 'No', '1'); unquoted, "
                             "YAML reads yes, no, on and off as true or false and digits as numbers")
        return value

    @model_validator(mode="before")
    @classmethod
    def _text_area_holds_255(cls, data: object) -> object:
        """Setup's Text Area (not Long) is a textarea of 255 characters: its length when none is
        given, and its limit when one is."""
        if not isinstance(data, dict) or not isinstance(data.get("type"), str) \
                or data["type"].strip().lower() != SHORT_TEXT_AREA:
            return data
        length = data.get("length")
        if length is None:
            return {**data, "length": SHORT_TEXT_AREA_LENGTH}
        if isinstance(length, (int, float)) and not isinstance(length, bool) and length > SHORT_TEXT_AREA_LENGTH:
            raise ValueError(f"a Text Area holds at most {SHORT_TEXT_AREA_LENGTH} characters in Salesforce: for "
                             f"{length}, write type: Long Text Area (or textarea)")
        return data

    @model_validator(mode="before")
    @classmethod
    def _precision_from_the_range(cls, data: object) -> object:
        """A number with both bounds and no precision needs the digits of its bounds, not 18: the
        precision is what field-metadata creates and check-fields compares with the org's field."""
        if not isinstance(data, dict) or "precision" in data or not isinstance(data.get("type"), str):
            return data
        low, high, scale = data.get("min"), data.get("max"), data.get("scale", 0)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high))
        if _canonical_type(data["type"]) != "number" or not numbers \
                or not isinstance(scale, int) or isinstance(scale, bool):
            return data
        whole_digits = len(str(int(max(abs(low), abs(high)))))
        return {**data, "precision": max(1, min(18, whole_digits + scale))}

    @field_validator("min", "max")
    @classmethod
    def _no_negative_zero(cls, value: float | None) -> float | None:
        # -0.0 equals 0 but is written "-0": the memoized conversions, keyed by the bounds, would
        # tell a field's range as "0 to 5" or "-0 to 5" by which of the two they saw first.
        return value + 0.0 if value is not None else None

    @field_validator("template")
    @classmethod
    def _template_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            check_field_template(compile_template(value, FIELD_TEMPLATES))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "FieldSpec":
        origins = [name for name in ("source", "question_id", "template") if getattr(self, name) is not None]
        if len(origins) != 1:
            raise ValueError("give exactly one of source, question_id or template")
        self._check_keys_apply()
        if self.question_type and self.question_id is None:
            raise ValueError("question_type goes with question_id: it checks the structured answer's type")
        if self.question_type == "yes_no" and self.type == "picklist":
            # Many orgs keep yes/no answers in a Yes/No picklist: the mapping writes its values.
            if not self.holds_yes_and_no:
                raise ValueError("a yes_no answer goes into a checkbox field, or a picklist with the values Yes and No")
        elif self.question_type and QUESTION_FIELD_TYPES[self.question_type] != self.type:
            raise ValueError(f"a {self.question_type} answer goes into a "
                             f"{QUESTION_FIELD_TYPES[self.question_type]} field, not {self.type}")
        if self.type in MAX_LENGTHS and (self.length or 0) > MAX_LENGTHS[self.type]:
            raise ValueError(f"{self.type} fields hold at most {MAX_LENGTHS[self.type]} characters")
        if self.type in ("picklist", "multipicklist") and not self.values:
            raise ValueError(f"a {self.type} field needs its values")
        self._check_values()
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is larger than max: no value could be sent")
        if self.scale >= self.precision:
            # Salesforce's Length (precision - scale) is at least 1: Number(3, 3) cannot be created.
            raise ValueError("scale must be smaller than precision (Salesforce needs a digit before the point)")
        self._check_visible_lines()
        self._check_range_fits()
        return self

    def _check_visible_lines(self) -> None:
        if self.visible_lines is not None and self.type == "textarea" and (self.max_length or 0) <= 255:
            raise ValueError("visible_lines is for a Long Text Area (length over 255); a textarea of 255 "
                             "characters or fewer is a Text Area, which has none")
        low, high = VISIBLE_LINES.get(self.type, (1, 50))
        if self.visible_lines is not None and not low <= self.visible_lines <= high:
            raise ValueError(f"visible_lines of a {self.type} field is {low} to {high} in Salesforce Setup")

    def _check_keys_apply(self) -> None:
        for key in sorted(self.model_fields_set & set(KEYS_OF_TYPE)):
            if self.type not in KEYS_OF_TYPE[key]:
                raise ValueError(f"{key} does nothing on a {self.type} field (it is for "
                                 f"{', '.join(sorted(KEYS_OF_TYPE[key]))} fields)")

    def _check_range_fits(self) -> None:
        """A bound beyond what the field's digits hold: every value it lets in is refused."""
        if self.type != "number":
            return
        limit = 10 ** (self.precision - self.scale)
        holds = f"Number({self.precision}, {self.scale}) holds values below {limit:,} in size"
        for key, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and abs(bound) >= limit:
                # Values past the digits are left out whatever the bound says: it is not the range.
                raise ValueError(f"{key} is beyond what the field holds: {holds}")

    def _check_values(self) -> None:
        """Picklist values Salesforce would refuse to create, or could not tell apart."""
        if len(self.values) > MAX_PICKLIST_VALUES:
            raise ValueError(f"a picklist holds at most {MAX_PICKLIST_VALUES:,} values in Salesforce; this one "
                             f"has {len(self.values):,}")
        seen = set()
        for value in self.values:
            if not value.strip():
                raise ValueError("a picklist value cannot be empty")
            if _CONTROL_CHARACTERS.search(value):
                raise ValueError("a picklist value is one line of text: no line breaks, tabs or control characters")
            if value != value.strip():
                # Values from events are matched trimmed: this one could never be chosen.
                raise ValueError("a picklist value has spaces at its start or end; Salesforce keeps "
                                 "values without them")
            if len(value) > PICKLIST_VALUE_LENGTH:
                raise ValueError(f"a picklist value holds at most {PICKLIST_VALUE_LENGTH} characters in "
                                 f"Salesforce; one here has {len(value)}")
            if self.type == "multipicklist" and ";" in value:
                raise ValueError("a multi-select picklist value cannot hold ';' (Salesforce's separator)")
            if value.lower() in seen:
                raise ValueError(f"the picklist value {value!r} is given twice (values are matched ignoring case)")
            seen.add(value.lower())

    # Worked out on first use and kept (the model is frozen), not per event. cached_property,
    # not a pydantic private attribute: reading one of those costs microseconds.
    @cached_property
    def max_length(self) -> int | None:
        return self.length or DEFAULT_LENGTHS.get(self.type)

    @cached_property
    def source_paths(self) -> tuple[tuple[str, ...], ...]:
        sources = [self.source] if isinstance(self.source, str) else self.source or []
        return tuple(tuple(path.split(".")) for path in sources)

    @property
    def holds_yes_and_no(self) -> bool:
        """Whether the picklist has a value to write a yes as, and one for a no."""
        lower = {value.lower() for value in self.values or ()}
        return any(word in lower for word in YES_WORDS) and any(word in lower for word in NO_WORDS)

    @cached_property
    def picklist_values(self) -> dict[str, str]:
        """Each allowed value by its lower-case form: a value is matched ignoring case."""
        return {value.lower(): value for value in self.values}

    @cached_property
    def picklist_runs(self) -> frozenset[str]:
        """The beginnings of the values that hold a comma, each cut before one of its commas,
        trimmed and in lower case ("reports" for "Reports, dashboards"): a value written in text
        is read across a comma only while what has been read is one of these."""
        runs: set[str] = set()
        for value in self.values:
            parts = value.lower().split(",")
            runs.update(",".join(parts[:count]).strip() for count in range(1, len(parts)))
        return frozenset(runs)

    @cached_property
    def compiled_template(self):
        return compile_template(self.template, FIELD_TEMPLATES) if self.template is not None else None


class LookupSpec(_Strict):
    order: list[LookupStrategy] = Field(default_factory=lambda: ["contact_id", "email"])
    external_id_field: ApiName | None = None
    email_field: ApiName = "Email"
    # A date/time field the profile writes with the interview's time. The lookups read
    # it, and the chain leaves a Contact alone when it holds a later time: Koji's retry of an
    # older interview (its Slack post failed, say) must not write over a newer one.
    keep_newer: ApiName | None = None

    @model_validator(mode="after")
    def _usable(self) -> "LookupSpec":
        if "external_id" in self.order and not self.external_id_field:
            raise ValueError("lookup.order uses external_id but lookup.external_id_field is not set")
        if len(set(self.order)) != len(self.order):
            raise ValueError("a strategy is listed twice in lookup.order")
        if not self.order:
            raise ValueError("lookup.order needs at least one strategy")
        return self


class ScoreSpec(_Strict):
    field: ApiName | None = None
    question_id: str | None = None


SCORE_LABELS = {"nps": "NPS Score", "csat": "CSAT Score", "last_survey_date": "Last Survey Date"}


class Scores(_Strict):
    """Survey scores in demeterrr's style: fixed meanings, field names you choose."""

    nps: ScoreSpec | None = None
    csat: ScoreSpec | None = None
    last_survey_date: ScoreSpec | None = None

    @field_validator("nps", "csat", "last_survey_date", mode="before")
    @classmethod
    def _empty_takes_the_defaults(cls, value: object) -> object:
        # "nps:" with nothing under it (or with its keys commented out) is YAML's null. The
        # entry is there, so it means "the defaults", as {} does; it must not vanish unseen.
        return {} if value is None else value

    @field_validator("nps", "csat")
    @classmethod
    def _has_its_question(cls, spec: ScoreSpec | None, info: ValidationInfo) -> ScoreSpec | None:
        if spec is not None and not spec.question_id:
            raise ValueError(f"the {SCORE_LABELS[str(info.field_name)]} needs the question_id of the scale question "
                             "it comes from")
        return spec

    @model_validator(mode="after")
    def _buildable(self) -> "Scores":
        # ScoreSpec has checked each chosen name on its own line; this catches what is left.
        self.field_specs()
        return self

    def by_key(self) -> dict[str, FieldSpec]:
        """The field each score given becomes, by its key in the profile."""
        specs = {}
        if self.nps:
            specs["nps"] = _score_field(self.nps, "NPS_Score__c", SCORE_LABELS["nps"], precision=2, min=0, max=10)
        if self.csat:
            specs["csat"] = _score_field(self.csat, "CSAT_Score__c", SCORE_LABELS["csat"], precision=1, min=1, max=5)
        if self.last_survey_date:
            specs["last_survey_date"] = FieldSpec(name=self.last_survey_date.field or "Last_Survey_Date__c",
                                                  type="date", label=SCORE_LABELS["last_survey_date"],
                                                  source=["interview.completed_at", "event.occurred_at"])
        return specs

    def field_specs(self) -> list[FieldSpec]:
        return list(self.by_key().values())


def _score_field(spec: ScoreSpec, default: str, label: str, **number: float) -> FieldSpec:
    return FieldSpec(name=spec.field or default, type="number", label=label, scale=0,
                     question_id=spec.question_id, question_type="scale", **number)


def _compiles(source: str) -> str:
    compile_template(source)
    return source


# Checked one by one, so a refusal is told at the line of the template, not of `templates:`.
SlackTemplate = Annotated[str, AfterValidator(_compiles)]


class SlackSpec(_Strict):
    templates: dict[Literal[SLACK_TEMPLATE_NAMES], SlackTemplate] = Field(  # type: ignore[valid-type]
        default_factory=dict)

    @cached_property
    def compiled_templates(self) -> dict[str, Any]:
        return {name: compile_template(source) for name, source in self.templates.items()}

    def template(self, name: str):
        return self.compiled_templates.get(name)


class Profile(_Strict):
    version: Literal[1] = 1
    sobject: Literal["Contact"] = "Contact"
    quality_threshold: float = Field(default=3, ge=0, le=5)
    actions: dict[Literal[EVENT_TYPES], Action]  # type: ignore[valid-type]
    lookup: LookupSpec = Field(default_factory=LookupSpec)
    fields: list[FieldSpec] = Field(default_factory=list)
    scores: Scores = Field(default_factory=Scores)
    slack: SlackSpec = Field(default_factory=SlackSpec)

    @field_validator("actions")
    @classmethod
    def _no_contact_for_events_without_a_person(cls, actions: dict[str, str]) -> dict[str, str]:
        # A study or a report has no respondent: such an event could only ever be skipped as
        # anonymous, and its Slack summary would be lost without a word.
        wrong = [name for name in ("study.published", "report.generated") if actions.get(name) == "update_contact"]
        if wrong:
            raise ValueError(f"{' and '.join(wrong)} carry no respondent, so they cannot update a Contact: "
                             "map them to notify (a Slack post) or skip")
        return actions

    @model_validator(mode="after")
    def _coherent(self) -> "Profile":
        # Every problem is told at once, each at its places (pydantic locations): one hidden behind
        # another would cost the admin a start-up per mistake.
        problems = self._fields_mapped_twice() + self._keep_newer_problems()
        if problems:
            raise PydanticCustomError("profile_checks", "{text}", {"text": "; ".join(text for text, _ in problems),
                                                                    "problems": problems})
        return self

    def _fields_mapped_twice(self) -> list[tuple[str, tuple]]:
        problems = []
        seen: dict[str, tuple[FieldSpec, tuple]] = {}
        for place, spec in self._placed_fields():
            # Salesforce API names ignore case: A__c and a__c are one field.
            if spec.name.lower() in seen:
                first, first_place = seen[spec.name.lower()]
                note = f" ({first.name} before: API names ignore case)" if first.name != spec.name else ""
                problems.append((f"a field is mapped twice: {spec.name}{note}", (first_place, place)))
            else:
                seen[spec.name.lower()] = spec, place
        return problems

    def _keep_newer_problems(self) -> list[tuple[str, tuple]]:
        place = (("lookup", "keep_newer"),)
        if self.lookup.keep_newer is not None and self.keep_newer_field is None:
            return [(f"lookup.keep_newer names {self.lookup.keep_newer}, which is not a datetime field of this "
                     "profile: the chain compares the time it writes there with the Contact's (a date cannot "
                     "tell two interviews of one day apart)", place)]
        if self.keep_newer_spec is not None and _mixes_times(self.keep_newer_spec):
            # Found by an audit, in the default profile: Koji's quality_scored webhook has no
            # completed_at, so it wrote its own later sending time, and the same interview's
            # analysis_ready (its completion time) was then kept out as older, quote and all.
            return [(f"lookup.keep_newer names {self.keep_newer_field}, whose source falls back from one kind "
                     "of time to event.occurred_at (when Koji sent the event): an event without the interview's "
                     "time would write its later sending time, and the same interview's next event would be kept "
                     "out as older. Give that field one kind of time (interview.completed_at)", place)]
        return []

    def _placed_fields(self):
        """Each field the mapping writes, with where the profile names it (a pydantic location)."""
        for index, spec in enumerate(self.fields):
            yield ("fields", index, "name"), spec
        for key, spec in self.scores.by_key().items():
            yield ("scores", key, "field") if getattr(self.scores, key).field else ("scores", key), spec

    @cached_property
    def all_fields(self) -> tuple[FieldSpec, ...]:
        """The fields the mapping writes: the listed ones, then the survey scores."""
        return tuple(self.fields) + tuple(self.scores.field_specs())

    def warm_up(self) -> None:
        """Compile the profile's templates at start-up, so the first webhook does not pay for it
        (reading a cached_property computes and keeps it)."""
        for spec in self.all_fields:
            _ = spec.compiled_template
        _ = self.slack.compiled_templates

    @cached_property
    def keep_newer_spec(self) -> FieldSpec | None:
        """The datetime field lookup.keep_newer names (API names ignore case), or None."""
        wanted = (self.lookup.keep_newer or "").lower()
        return next((spec for spec in self.all_fields
                     if spec.name.lower() == wanted and spec.type == "datetime"), None)

    @cached_property
    def keep_newer_field(self) -> str | None:
        """That field's name, as the fields spell it, or None."""
        return self.keep_newer_spec.name if self.keep_newer_spec else None

    @cached_property
    def lookup_columns(self) -> tuple[str, ...]:
        """What a lookup query selects: the Id, and the keep_newer field to compare with."""
        return ("Id",) + ((self.keep_newer_field,) if self.keep_newer_field else ())

    @property
    def lookup_order(self) -> list[str]:
        return list(self.lookup.order)

    @property
    def external_id_field(self) -> str | None:
        return self.lookup.external_id_field

    @property
    def looked_up_fields(self) -> dict[str, str]:
        """The fields the lookups filter on, by strategy: the e-mail field, then the External ID
        field (a Contact id needs none)."""
        fields = {"email": self.lookup.email_field} if "email" in self.lookup.order else {}
        if "external_id" in self.lookup.order and self.lookup.external_id_field:
            fields["external_id"] = self.lookup.external_id_field
        return fields


_EVENT_TIME = ("event", "occurred_at")


def _mixes_times(spec: FieldSpec) -> bool:
    """A source that reads the event's sending time after (or before) another time."""
    return _EVENT_TIME in spec.source_paths and len(spec.source_paths) > 1
