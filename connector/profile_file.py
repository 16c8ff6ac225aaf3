"""Reading a profile file: YAML, then connector.profile's models. A mistake is told on its line,
in words a revenue-ops admin acts on: PyYAML's and pydantic's own messages are written for a
programmer ("expected <block end>, but found '?'", "Extra inputs are not permitted").
Every mistake of a file is told at once, in the order of its lines."""
from __future__ import annotations

import difflib
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from connector.profile import (
    DEFAULT_PROFILE, FieldSpec, LookupSpec, Profile, ProfileError, Scores, ScoreSpec, SlackSpec, kind_of, shown_setting,
)


def load_profile(path: str | os.PathLike | None) -> Profile:
    """Read and check a profile; ``None`` is the shipped default (the Koji recipe)."""
    path = Path(path) if path is not None else DEFAULT_PROFILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ProfileError(f"{path}:{line}: the file is not UTF-8 text: save it as UTF-8 in your editor") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line, reason = _yaml_mistake(exc, text)
        raise ProfileError(f"{path}:{line}: not valid YAML: {reason}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}:1: a profile is a YAML mapping (key: value)")
    duplicates = _duplicate_keys(root)
    if duplicates:
        # YAML keeps the last of two equal keys without a word: one of two settings would be lost.
        raise ProfileError("\n".join(f"{path}:{line}: the key {key!r} is given twice in the same block"
                                      for line, key in sorted(duplicates, key=lambda found: found[0])))
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_describe(path, root, exc)) from None


def _duplicate_keys(node: yaml.Node) -> list[tuple[int, str]]:
    """(line, key) of each key given again in its mapping, anywhere in the document."""
    found: list[tuple[int, str]] = []
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if key.value in seen:
                found.append((key.start_mark.line + 1, key.value))
            seen.add(key.value)
            children.append(value)
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    for child in children:
        found += _duplicate_keys(child)
    return found


# ----- YAML mistakes, in words: the parser's own message names its tokens ('<block end>', '?').

CHECK_INDENTATION = "check the indentation of this line and the one above (spaces, not tabs)"
# Characters a plain YAML value cannot start with, or that make it something else than text.
NEEDS_QUOTES = "{ [ * & ! | > ' \" % @ `"


def _yaml_mistake(exc: yaml.YAMLError, text: str) -> tuple[int, str]:
    """The line of a YAML mistake and what to do about it, in words."""
    if isinstance(exc, yaml.reader.ReaderError):
        # A control character (pasted from a PDF, a Word document): the reader names its position.
        line = text[:exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        return line, f"the line holds a control character (U+{code:04X}) that YAML does not allow: delete it"
    if not isinstance(exc, yaml.MarkedYAMLError):
        return 1, "the file cannot be read as YAML"
    problem, context = exc.problem or "", exc.context or ""
    line = exc.problem_mark.line + 1 if exc.problem_mark else 1
    opened = exc.context_mark.line + 1 if exc.context_mark else line
    if "'\\t'" in problem or "tab character" in problem or _indented_with_a_tab(text, line):
        return line, ("a tab on this line or the one above: YAML takes spaces only, to indent and after a "
                      "':'; replace the tab with spaces")
    if problem == "mapping values are not allowed here":
        return line, (f"a 'key:' cannot start here: {CHECK_INDENTATION}; a line indented deeper than the key "
                      "above it is read as part of that key's value. A value that holds ': ' itself needs "
                      "quotes (label: 'Note: read me')")
    if problem.startswith("expected <block end>") or problem == "sequence entries are not allowed here":
        return line, (f"this line does not line up with the block it belongs to: {CHECK_INDENTATION}; the keys "
                      "of one block, and the '- ' items of one list, start in the same column")
    if problem == "could not find expected ':'":
        return opened, (f"this line is not 'key: value': add the ':' after the key, or {CHECK_INDENTATION}")
    if problem == "found unexpected end of stream" and "quoted" in context:
        return opened, "a quote opened on this line is never closed: end the value with the same quote"
    if problem.startswith("found unknown escape character"):
        return line, ("a value in double quotes holds a backslash YAML does not know: put the value in single "
                      "quotes, or write each backslash twice")
    if problem == "found unhashable key" or (problem.startswith("found character '%'")):
        return line, ("a value that starts with '{' or '{%' is read as YAML, not as text: put a Liquid template "
                      "in quotes (template: \"{{ analysis.quote }}\")")
    if problem.startswith(("expected ',' or ']'", "expected ',' or '}'")):
        bracket = "[" if "]" in problem else "{"
        return line, (f"the '{bracket}' opened on line {opened} is not closed, or two of its items have no comma "
                      "between them")
    if problem.startswith("expected the node content") and "flow" in context:
        return line, ("a list in [ ] takes items separated by commas, not '- ' lines: write [a, b], or the "
                      "'- ' lines without the brackets")
    if context.startswith("expected a single document"):
        return line, "a profile is one YAML document: remove the '---' line and what follows it, or merge the two"
    return line, (f"YAML cannot read this line: {CHECK_INDENTATION}, and put in quotes a value that holds ': ' "
                  f"or ' #', or starts with one of {NEEDS_QUOTES}")


def _indented_with_a_tab(text: str, line: int) -> bool:
    """Whether ``line`` (1-based) or the one above starts with whitespace holding a tab."""
    lines = text.splitlines()
    return any("\t" in lines[number - 1][:len(lines[number - 1]) - len(lines[number - 1].lstrip(" \t"))]
               for number in (line - 1, line) if 1 <= number <= len(lines))


# ----- pydantic's errors, in words: they are written for a Python programmer ("Extra inputs are
# not permitted", "Input should be a valid list").

# What each block is called in a message, and where it sits (for a key written in the wrong block).
BLOCK_NAMES: dict[type[BaseModel], tuple[str, str]] = {
    Profile: ("the profile", "the top level (not indented)"), FieldSpec: ("a field", "a field (an item of fields:)"),
    LookupSpec: ("lookup", "lookup:"), Scores: ("scores", "scores:"),
    ScoreSpec: ("a score", "a score (nps:, csat: or last_survey_date:)"), SlackSpec: ("slack", "slack:")}


def _describe(path: Path, root: yaml.Node, exc: ValidationError) -> str:
    told = []
    for error in _without_failed_union_members(exc.errors(include_url=False)):
        is_key = error["loc"][-1:] == ("[key]",)
        context = error.get("ctx") or {}
        # A check of the whole profile tells each of its problems, with the places it names.
        for reason, places in context.get("problems") or [(None, [error["loc"]])]:
            places = [[part for part in place if not _is_union_tag(part)] for place in places]
            # A problem across entries (a field mapped twice) is told at the last of its places in the
            # file, where the reader repeated something, and the others are named with their lines.
            placed = sorted(((_line_of(root, place), place) for place in places), key=lambda item: item[0])
            (line, location), others = placed[-1], placed[:-1]
            reason = reason or _reason(error, location, is_key)
            reason += "".join(f"; also at line {other} ({_dotted(place)})" for other, place in others)
            told.append((line, f"{path}:{line}: {_dotted(location)}: {reason}"))
    return "\n".join(message for _, message in sorted(told, key=lambda item: item[0]))


def _without_failed_union_members(errors: list[Any]) -> list[Any]:
    """A value that may be of two kinds (a source: a path or a list of paths) gets an error from
    each kind it is not. When it is of one kind, only that kind's errors say what is wrong; when
    it is of neither, one error says both kinds."""
    kept: list[Any] = []
    unions: dict[tuple, list[tuple[int, Any]]] = {}
    for error in errors:
        tag = next((index for index, part in enumerate(error["loc"]) if _is_union_tag(part) and part != "[key]"), None)
        if tag is None:
            kept.append(error)
        else:
            unions.setdefault(error["loc"][:tag], []).append((tag, error))
    for members in unions.values():
        inside = [error for tag, error in members if len(error["loc"]) > tag + 1]
        if inside:
            kept += inside
        else:
            kinds = " or ".join(dict.fromkeys(_KINDS.get(error["type"], "something else") for _, error in members))
            if _field_of([part for part in members[0][1]["loc"] if not _is_union_tag(part)]) == "source":
                kinds = ("a path (analysis.quote) or a list of paths, the first with a value wins "
                         "([analysis.quote, analysis.summary])")
            kept.append({**members[0][1], "type": "union_kinds", "msg": f"must be {kinds}"})
    return kept


# What a value must be, by pydantic's error type.
_KINDS = {"string_type": "text", "list_type": "a list", "int_type": "a whole number", "int_parsing": "a whole number",
          "int_from_float": "a whole number (no decimals)", "float_type": "a number", "float_parsing": "a number",
          "finite_number": "a number", "bool_type": "true or false", "bool_parsing": "true or false",
          "dict_type": "a block of 'key: value' lines", "model_type": "a block of 'key: value' lines"}
# What a choice is called, by the key it is given in (and whether it is the key of a block).
_CHOICE_NOUNS = {("actions", True): "an event type", ("actions", False): "an action",
                 ("templates", True): "a Slack message the connector sends", ("order", False): "a lookup strategy",
                 ("question_type", False): "a question type", ("version", False): "a profile version",
                 ("sobject", False): "an object the connector writes"}


def _reason(error: dict, location: list[object], is_key: bool) -> str:
    """pydantic's reason for ``error``, in words an admin acts on."""
    kind, value, context = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(location)
    if kind == "missing":
        block = _model_at(location[:-1])
        where = BLOCK_NAMES[block][0] if block in BLOCK_NAMES else "this block"
        return f"{location[-1]} is missing: {where} needs it; add a line '{location[-1]}: ...'"
    if kind == "literal_error":
        return _not_a_choice(value, context.get("expected", ""), _field_of(location), is_key)
    if kind in _KINDS:
        return _wrong_kind(kind, value, location)
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a number"
        bound = next(iter(context.values()))
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return {"greater_than_equal": f"must be {bound} or more", "less_than_equal": f"must be {bound} or less",
                "greater_than": f"must be more than {bound}", "less_than": f"must be less than {bound}"}[kind]
    if kind == "string_too_short":
        return "cannot be empty"
    if kind == "string_too_long":
        return f"holds at most {context.get('max_length')} characters"
    return re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])


def _wrong_kind(kind: str, value: object, location: list[object]) -> str:
    if value is None:
        block = _model_at(location[:-1])
        required = block is not None and block.model_fields[str(location[-1])].is_required()
        return "is empty: give its value" + ("" if required else ", or remove the line")
    wanted = _KINDS[kind]
    if kind in ("model_type", "dict_type"):
        block = _model_at(location)
        if block is FieldSpec:
            return ("each item of fields is a block of 'key: value' lines (- name: Interview_Themes__c, then "
                    "type: and source: below name, in the same column)")
        return f"must be {wanted}, indented below it"
    if kind == "list_type":
        return "must be a list: [a, b] on one line, or one '- item' line each, below it"
    if kind == "string_type" and _field_of(location) == "source":
        return "must be a path (analysis.quote)"
    if kind == "string_type" and isinstance(value, bool):
        return ("must be text: YAML reads yes, no, on, off, true and false as true or false; put the text in "
                "quotes ('Yes')")
    if kind == "string_type" and isinstance(value, (int, float)):
        return "must be text: YAML reads digits as a number; put them in quotes ('5')"
    return f"must be {wanted}" if kind == "int_from_float" else f"must be {wanted}, not {kind_of(value)}"


def _unknown_key(location: list[object]) -> str:
    key, block = str(location[-1]), _model_at(location[:-1])
    if block not in BLOCK_NAMES:
        return f"unknown key {key!r}"
    name, _ = BLOCK_NAMES[block]
    keys = list(block.model_fields)
    closest = difflib.get_close_matches(key.lower(), keys, n=1)
    hint = f" (did you mean {closest[0]!r}?)" if closest else ""
    elsewhere = [where for other, (_, where) in BLOCK_NAMES.items() if other is not block and key in other.model_fields]
    if elsewhere and not closest:
        hint = f" here: it is a key of {elsewhere[0]}; {CHECK_INDENTATION}"
    return f"unknown key {key!r}{hint}. The keys of {name}: {', '.join(keys)}"


def _not_a_choice(value: object, expected: str, field: str | None, is_key: bool) -> str:
    choices = re.findall(r"'([^']*)'", expected) or [expected]
    if len(choices) == 1 and not is_key:
        return f"must be {choices[0]}"
    noun = _CHOICE_NOUNS.get((field or "", is_key), "one of the choices here")
    by_lower = {choice.lower(): choice for choice in choices}
    closest = difflib.get_close_matches(str(value).lower(), list(by_lower), n=1) if isinstance(value, str) else []
    hint = f" (did you mean {by_lower[closest[0]]!r}?)" if closest else ""
    return f"{shown_setting(value)} is not {noun}{hint}. The choices: {', '.join(choices)}"


def _model_at(location: list[object]) -> type[BaseModel] | None:
    """The model of the block a pydantic location leads to (a field, lookup), or None."""
    annotation: Any = Profile
    for part in location:
        annotation = _without_none(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if part not in annotation.model_fields:
                return None
            annotation = annotation.model_fields[str(part)].annotation
        elif typing.get_origin(annotation) in (list, dict):
            annotation = get_args(annotation)[-1]
        else:
            return None
    annotation = _without_none(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _field_of(location: list[object]) -> str | None:
    """The key of the model the location ends in or under (actions, for actions.interview.done)."""
    for end in range(len(location), 0, -1):
        if isinstance(_model_at(location[:end - 1]), type):
            return str(location[end - 1])
    return None


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [member for member in get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _dotted(location: list[object]) -> str:
    return ".".join(str(part) for part in location) or "profile"


def _is_union_tag(part: object) -> bool:
    # pydantic names the union member it tried ("str", "list[str]"); YAML has no such node.
    return isinstance(part, str) and ("[" in part or part in ("str", "list", "function-after"))


def _line_of(node: yaml.Node, location: list[object]) -> int:
    """The line of the deepest YAML node (or mapping key) that the pydantic location reaches."""
    line = node.start_mark.line + 1
    for part in location:
        found = _child(node, part)
        if found is None:
            break
        line, node = found
    return line


def _child(node: yaml.Node, part: object) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        # The key's line: "length: 300" is where a reader looks, also for a nested block.
        return next(((key.start_mark.line + 1, value) for key, value in node.value if key.value == str(part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part].start_mark.line + 1, node.value[part]
    return None


