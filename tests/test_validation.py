import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from jsonschema import Draft202012Validator

from connector.errors import MalformedJson, ValidationFailed
from connector.validation import (
    MAX_DEPTH, MAX_REPORTED_ERRORS, _fast_validator, check, json_pointer, load_schema, parse_json_object,
)

SCHEMAS = ["koji-webhook.schema.json", "koji-interview.schema.json", "verify-envelope.schema.json"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.integers(-2**70, 2**70), st.floats(-1, 7, allow_nan=False),
                    st.sampled_from(["", "x", "scale", "essay", "interview.completed", "a@b.co", "ping"]))
keys = st.sampled_from(["event", "type", "data", "timestamp", "interview_id", "id", "quality_score",
                        "respondent", "participant", "email", "themes", "sentiment", "structured_answers",
                        "question_id", "questionId", "question_type", "confidence", "overall", "name",
                        "raw_body", "raw_body_base64", "signature", "analysis", "interview", "metadata",
                        "respondent_email", "by_theme", "challenge", "quote"])
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=6)),
                         max_leaves=25)


@pytest.mark.parametrize("schema_name", SCHEMAS)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.dictionaries(keys, documents, max_size=6))
def test_the_compiled_fast_path_agrees_with_jsonschema(schema_name, document):
    reference = Draft202012Validator(load_schema(schema_name)).is_valid(document)
    assert _fast_validator(schema_name).is_valid(document) == reference


def test_errors_name_pointers_not_values():
    with pytest.raises(ValidationFailed) as caught:
        check({"type": "interview.completed", "data": {"respondent": {"email": ["secret@x.io"]}}},
              "koji-webhook.schema.json")
    assert caught.value.errors == [{"pointer": "/data/respondent/email", "message": "must be of type string or null"}]
    assert "secret@x.io" not in json.dumps(caught.value.to_dict())


@pytest.mark.parametrize("document", [
    {}, {"challenge": "c9a1"}, {"test": True},                                         # Koji's verification request
    {"type": "interview.completed", "interview_id": "i1", "quality_score": 4,          # no `data` wrapper
     "respondent_email": "a@b.co"},
    {"type": "x", "data": {"sentiment": {"overall": "negative", "by_theme": [{"theme": "pricing", "sentiment": "negative"}]}}},
    {"type": "x", "data": {"structured_answers": [{"id": "q1", "type": "scale", "extracted_value": 2, "confidence": 92}]}},
])
def test_every_documented_shape_is_accepted(document):
    check(document, "koji-webhook.schema.json")


@pytest.mark.parametrize(("document", "pointer", "message"), [
    # a string would let a low-quality interview past the threshold, wherever the score is
    ({"type": "x", "quality_score": "1"}, "/quality_score", "must be of type number or null"),
    ({"type": "x", "data": {"analysis": {"quality_score": "1"}}}, "/data/analysis/quality_score",
     "must be of type number or null"),
    # the analysis nested as in the full interview is checked like the flat one
    ({"type": "x", "data": {"analysis": {"structured_answers": [{"value": 2}]}}}, "/data/analysis/structured_answers/0",
     "needs 'question_id' or 'questionId' or 'id' (see openapi.yaml)"),
    ({"type": "x", "data": {"structured_answers": [{"id": "q", "confidence": "92"}]}},
     "/data/structured_answers/0/confidence", "must be of type number or null"),
    ({"type": "x", "data": {"structured_answers": [{"id": "q", "question_type": 5}]}},
     "/data/structured_answers/0/question_type", "must be of type string or null"),
])
def test_an_events_values_are_checked_where_normalization_reads_them(document, pointer, message):
    with pytest.raises(ValidationFailed) as caught:
        check(document, "koji-webhook.schema.json")
    assert {"pointer": pointer, "message": message} in caught.value.errors


def test_a_body_with_thousands_of_errors_is_refused_after_the_first_ones(monkeypatch):
    # Before: all of a 1 MiB body's 349,487 bad items were listed, then cut to 50; the worker
    # passed gunicorn's 30 s timeout and the caller got a 500.
    from connector import validation
    pulled = []

    class Counting:
        def __init__(self, real):
            self.real = real

        def iter_errors(self, payload):
            for error in self.real.iter_errors(payload):
                pulled.append(error)
                yield error

    real = validation._validator("koji-webhook.schema.json")
    monkeypatch.setattr(validation, "_validator", lambda name: Counting(real))
    payload = {"type": "interview.completed", "data": {"interview_id": "x", "structured_answers": [{}] * 500}}
    with pytest.raises(ValidationFailed) as caught:
        check(payload, "koji-webhook.schema.json")
    assert len(caught.value.errors) == MAX_REPORTED_ERRORS
    assert all(error["pointer"].startswith("/data/structured_answers") for error in caught.value.errors)
    assert "More than 50 field(s) do not match" in caught.value.to_dict()["detail"]
    assert len(pulled) == MAX_REPORTED_ERRORS + 1


@pytest.mark.parametrize("field, item", [("themes", 7), ("structured_answers", {})])
def test_an_array_over_its_max_items_is_one_error_not_one_per_item(field, item):
    # Before: each of its items was checked too, in Python: 262,000 of them in a 1 MiB body
    # took seconds, to report 50 errors about items of an array refused anyway.
    payload = {"type": "interview.completed", "data": {"interview_id": "x", field: [item] * 600}}
    with pytest.raises(ValidationFailed) as caught:
        check(payload, "koji-webhook.schema.json")
    assert caught.value.errors == [{"pointer": f"/data/{field}", "message": "must have at most 500 items"}]
    assert not Draft202012Validator(load_schema("koji-webhook.schema.json")).is_valid(payload)


def test_pointer_escaping():
    with pytest.raises(ValidationFailed) as caught:
        check({"type": "x", "data": {"metadata": 5}}, "koji-webhook.schema.json")
    assert caught.value.errors[0]["pointer"] == "/data/metadata"


@pytest.mark.parametrize("raw", [b"", b"nul", b"[]", b'"s"', b"1", b"null", b'{"a": Infinity}', b"\xff"])
def test_only_json_objects_parse(raw):
    with pytest.raises(MalformedJson):
        parse_json_object(raw)


def test_checking_never_changes_the_cached_schemas():
    before = json.dumps(load_schema("koji-webhook.schema.json"), sort_keys=True)
    check({"type": "x", "data": {"structured_answers": [{"question_id": "a", "question_type": "scale"}]}},
          "koji-webhook.schema.json")
    with pytest.raises(ValidationFailed):
        check({"type": 5}, "koji-webhook.schema.json")
    assert json.dumps(load_schema("koji-webhook.schema.json"), sort_keys=True) == before


@pytest.mark.parametrize(("schema_name", "document", "message"), [
    # With no event type, an object is Koji's verification request only when it carries none
    # of an event's values ({} is one: see test_events).
    ("koji-webhook.schema.json", {"data": {"interview_id": "i1"}}, "needs 'event' or 'type' (see openapi.yaml)"),
    ("koji-webhook.schema.json", {"respondent_email": "a@b.co", "a": 1}, "needs 'event' or 'type' (see openapi.yaml)"),
    ("koji-interview.schema.json", {}, "needs 'id' or 'interview_id' or 'data' or 'interview' (see openapi.yaml)"),
    # Both alternatives present: naming them as missing would be wrong.
    ("verify-envelope.schema.json", {"raw_body": "x", "raw_body_base64": "eA==", "signature": "s"},
     "does not match any documented shape (see openapi.yaml)"),
])
def test_a_body_of_no_documented_shape_is_told_what_each_shape_needs(schema_name, document, message):
    with pytest.raises(ValidationFailed) as caught:
        check(document, schema_name)
    assert {"pointer": "", "message": message} in caught.value.errors


def test_integers_beyond_64_bits_parse_exactly_and_deep_nesting_is_still_refused():
    assert parse_json_object(b'{"metadata": {"crm_id": -123456789012345678901234567890}}') == \
        {"metadata": {"crm_id": -123456789012345678901234567890}}
    # The exact re-read meets Python's recursion limit before orjson's 1,024 levels.
    with pytest.raises(MalformedJson, match="nested more than 32 levels"):
        parse_json_object(b'{"a": ' + b"[" * 1000 + b"123456789012345678901234567890" + b"]" * 1000 + b"}")


@pytest.mark.parametrize(("schema_name", "document", "pointer", "message"), [
    ("verify-envelope.schema.json", {"raw_body": "x"}, "", "missing required property 'signature'"),
    ("verify-envelope.schema.json", {"raw_body": "x", "signature": "s", "secret": "k"}, "",
     "has properties the schema does not allow"),
    ("koji-webhook.schema.json", {"type": 5}, "/type", "must be of type string"),
    ("koji-webhook.schema.json", {"type": ""}, "/type", "must be at least 1 characters"),
    ("koji-webhook.schema.json", {"type": "x" * 201}, "/type", "must be at most 200 characters"),
    ("koji-webhook.schema.json", {"type": "x", "quality_score": -1}, "/quality_score", "must be at least 0"),
    ("koji-webhook.schema.json", {"type": "x", "quality_score": 6}, "/quality_score", "must be at most 5"),
])
def test_each_kind_of_violation_is_described_from_the_schema(schema_name, document, pointer, message):
    with pytest.raises(ValidationFailed) as caught:
        check(document, schema_name)
    assert caught.value.errors == [{"pointer": pointer, "message": message}]
    assert caught.value.detail == f"1 field(s) do not match the schema {schema_name}."


def test_an_enum_violation_names_the_values_it_allows():
    # No shipped schema has an enum now (question_type takes any text): a schema of its own.
    from connector.validation import _describe
    [error] = Draft202012Validator({"properties": {"t": {"enum": ["open_ended", "scale", None]}}}).iter_errors({"t": "x"})
    assert _describe(error) == {"pointer": "/t", "message": 'must be one of "open_ended", "scale", null'}


def test_exactly_the_reported_number_of_errors_is_counted_not_called_more():
    payload = {"type": "interview.completed", "data": {"interview_id": "x", "structured_answers": [{}] * MAX_REPORTED_ERRORS}}
    with pytest.raises(ValidationFailed) as caught:
        check(payload, "koji-webhook.schema.json")
    assert len(caught.value.errors) == MAX_REPORTED_ERRORS
    assert caught.value.detail == f"{MAX_REPORTED_ERRORS} field(s) do not match the schema koji-webhook.schema.json."


def test_a_valid_payload_is_answered_by_the_compiled_validator_alone(monkeypatch):
    from connector import validation

    def refuse(name):
        raise AssertionError("the slow validator ran for a valid payload")

    monkeypatch.setattr(validation, "_validator", refuse)
    check({"type": "interview.completed", "data": {"interview_id": "i1"}}, "koji-webhook.schema.json")


def test_json_pointer_escapes_tilde_and_slash():
    assert json_pointer(["by_theme", "a/b", "c~d", "~/", 0]) == "/by_theme/a~1b/c~0d/~0~1/0"
    assert json_pointer([]) == ""


@pytest.mark.parametrize(("raw", "detail"), [
    (b"[]", "The body must be a JSON object, not an array."),
    (b'"s"', "The body must be a JSON object, not a string."),
    (b"1.5", "The body must be a JSON object, not a number."),
    (b"null", "The body must be a JSON object, not null."),
    (b"true", "The body must be a JSON object, not a boolean."),
    (b"[" * 2000 + b"]" * 2000, f"The body is nested more than {MAX_DEPTH} levels deep."),
])
def test_a_refused_body_is_told_why(raw, detail):
    with pytest.raises(MalformedJson) as caught:
        parse_json_object(raw)
    assert caught.value.detail == detail


# Before: every one of these was "The body is not valid JSON (UTF-8, no NaN/Infinity).", wherever it broke.
NOT_JSON = {
    "trailing comma": (b'{"type": "ping",}', "The body is not valid JSON: trailing comma is not allowed "
                                             "(line 1, column 16)."),
    "single quotes": (b"{'type': 'ping'}", "The body is not valid JSON: expected a key in double quotes "
                                           "(line 1, column 2)."),
    "an unescaped quote in a templated value": (
        b'{"quote": "she said "no" twice"}', "The body is not valid JSON: expected a comma or the end of the "
                                             "object (line 1, column 22)."),
    "a missing colon": (b'{"type" "ping"}', "The body is not valid JSON: expected a colon after the key "
                                            "(line 1, column 9)."),
    "a missing comma in an array": (b'{"a": [1 2]}', "The body is not valid JSON: expected a comma or the end of "
                                                     "the array (line 1, column 10)."),
    "cut short": (b'{"type": "interview.completed", "data": {', "The body is not valid JSON: unexpected end of "
                                                                "data (line 1, column 42)."),
    "two documents": (b'{"a": 1}\n{"b": 2}', "The body is not valid JSON: unexpected content after the JSON "
                                              "value (line 2, column 1)."),
    "a misspelt literal": (b'{"test": ture}', "The body is not valid JSON: invalid literal, expected true "
                                              "(line 1, column 10)."),
    "a raw tab in a string": (b'{"quote": "a\tb"}', "The body is not valid JSON: a control character, such as a "
                                                    "tab or a line break, unescaped in a string (line 1, column 13)."),
    "a bad escape": (b'{"quote": "C:\\temp \\q"}', "The body is not valid JSON: invalid escape sequence in a "
                                                    "string (line 1, column 20)."),
    "a leading zero": (b'{"quality_score": 04}', "The body is not valid JSON: number with a leading zero "
                                                 "(line 1, column 19)."),
    "NaN": (b'{"quality_score": NaN}', "The body is not valid JSON: NaN or Infinity, which JSON does not allow "
                                       "(line 1, column 19)."),
    "Infinity": (b'{"a": 1,\n "quality_score": Infinity}', "The body is not valid JSON: NaN or Infinity, which "
                                                            "JSON does not allow (line 2, column 19)."),
    "-Infinity": (b'{"quality_score": -Infinity}', "The body is not valid JSON: NaN or Infinity, which JSON does "
                                                   "not allow (line 1, column 20)."),
    "a bare minus": (b'{"quality_score": -}', "The body is not valid JSON: no digit after a minus sign "
                                              "(line 1, column 20)."),
    "a number out of range": (b'{"quality_score": 1e400}', "The body is not valid JSON: a number beyond what a "
                                                           "double can hold (about 1.8e308) (line 1, column 19)."),
    # Columns count characters, as an editor does: the e-acute and the emoji are one each.
    "after text outside ASCII": ('{"quote": "caf\u00e9 \U0001f600",}'.encode(), "The body is not valid JSON: "
                                 "trailing comma is not allowed (line 1, column 19)."),
    "a byte-order mark": (b'\xef\xbb\xbf{"type": "ping"}', "The body starts with a byte-order mark (BOM), which "
                                                         "JSON does not allow: send it without one."),
    "not UTF-8": (b'{"type": "ping",\n "quote": "caf\xe9"}', "The body is not valid UTF-8: the bytes at offset "
                  "31 (counting from 0; line 2, column 15) are not a UTF-8 character. Send JSON encoded as UTF-8."),
    "not UTF-8 after text outside ASCII": ('{"quote": "\u00e9\u00e9'.encode() + b'\xc3("}', "The body is not "
                                           "valid UTF-8: the bytes at offset 15 (counting from 0; line 1, column 14) "
                                           "are not a UTF-8 character. Send JSON encoded as UTF-8."),
    "an encoded surrogate": (b'{"quote": "\xed\xa0\xbd"}', "The body is not valid UTF-8: the bytes at offset 11 "
                             "(counting from 0; line 1, column 12) are not a UTF-8 character. Send JSON encoded "
                             "as UTF-8."),
    "UTF-16": ('{"type": "ping"}'.encode("utf-16"), "The body is not valid UTF-8 (it looks like UTF-16): the bytes "
               "at offset 0 (counting from 0; line 1, column 1) are not a UTF-8 character. Send JSON encoded as UTF-8."),
    "empty": (b"", "The body is empty: send a JSON object."),
    "only whitespace": (b" \r\n", "The body is empty: send a JSON object."),
}


@pytest.mark.parametrize("raw, detail", NOT_JSON.values(), ids=NOT_JSON)
def test_a_body_that_is_not_json_is_told_what_is_wrong_and_where(raw, detail):
    with pytest.raises(MalformedJson) as caught:
        parse_json_object(raw)
    assert caught.value.detail == detail


@pytest.mark.parametrize("what", ["raw_body", "envelope", "body in raw_body_base64", "interview"])
def test_the_refusal_names_what_was_not_json(what):
    for raw, starts in [(b"{,}", f"The {what} is not valid JSON: "), (b"\xff{}", f"The {what} is not valid UTF-8: "),
                        (b"\xef\xbb\xbf{}", f"The {what} starts with a byte-order mark"), (b"", f"The {what} is empty")]:
        with pytest.raises(MalformedJson) as caught:
            parse_json_object(raw, what=what)
        assert caught.value.detail.startswith(starts)


SECRET_WORDS = ("jane", "acme", "zorblax", "@")
# Personal data on both sides of every place the body is broken: the detail may say where, never what is there.
PRIVATE = (b'{"type": "interview.completed", "data": {"respondent_email": "jane.doe@acme.example", '
           b'"quote": "Zorblax said \\"never\\" about it", "quality_score": 4.5, "themes": ["jane", "acme"]}}')
BREAKAGES = [b"", b",", b"'", b'"', b"\\", b"\\q", b"\\u12", b"\\ud800x", b"}", b"]", b"{", b":", b"NaN",
             b"-Infinity", b"1e400", b"01", b"tru", b"\x01", b"\n", b"\t", b"\xff", b"\xc3", b"\xed\xa0\x80",
             b"\xef\xbb\xbf", b"@jane", b" x"]


def test_a_refusal_never_shows_what_the_body_holds():
    seen = set()
    for at in range(len(PRIVATE) + 1):
        for breakage in BREAKAGES:
            for raw in (PRIVATE[:at] + breakage + PRIVATE[at:], PRIVATE[:at] + breakage):
                try:
                    parse_json_object(raw)
                except MalformedJson as refused:
                    detail = refused.detail
                else:
                    continue
                seen.add(detail.split(" (")[0])
                assert not any(word in detail.lower() for word in SECRET_WORDS), (raw, detail)
                assert '"' not in detail and "'" not in detail, (raw, detail)
    assert len(seen) > 15  # many kinds of breakage were met, each told apart


def test_a_reason_orjson_may_give_that_is_not_known_is_left_out(monkeypatch):
    # A later orjson could word a refusal differently, or quote the body: the detail keeps the position only.
    import orjson
    from connector import validation

    def refuse(raw):
        raise orjson.JSONDecodeError("unexpected token jane doe", "{}", 1)
    monkeypatch.setattr(validation.json_codec, "loads", refuse)
    with pytest.raises(MalformedJson) as caught:
        parse_json_object(b"{}")
    assert caught.value.detail == "The body is not valid JSON (line 1, column 2)."


def test_a_lone_surrogate_escape_reads_as_the_replacement_character():
    # What JavaScript's JSON.stringify writes for a text cut in the middle of an emoji; before, the whole
    # body was refused as "not valid JSON".
    assert parse_json_object(b'{"quote": "Great product \\ud83d", "\\udc00": "\\ud83d\\ude00"}') == {
        "quote": "Great product \ufffd", "\ufffd": "\U0001f600"}


def test_the_refusal_names_what_was_parsed():
    with pytest.raises(MalformedJson, match="^The raw_body must be a JSON object, not an array.$"):
        parse_json_object(b"[]", what="raw_body")


# Each with a few shallow brackets beside the nesting, so that the depth is measured, not
# merely bounded by the number of brackets.
def _objects(levels: int) -> bytes:
    return b'{"b": [[], {}], "a": ' + b'{"a": ' * (levels - 2) + b"{}" + b"}" * (levels - 2) + b"}"


def _arrays_in_an_object(levels: int) -> bytes:
    return b'{"b": [[], {}], "a": ' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


@pytest.mark.parametrize("nested", [_objects, _arrays_in_an_object])
def test_nesting_is_refused_past_max_depth_and_accepted_up_to_it(nested):
    assert nested(MAX_DEPTH).count(b"{") + nested(MAX_DEPTH).count(b"[") > MAX_DEPTH
    assert parse_json_object(nested(MAX_DEPTH))
    with pytest.raises(MalformedJson, match=f"nested more than {MAX_DEPTH} levels"):
        parse_json_object(nested(MAX_DEPTH + 1))


def test_many_shallow_brackets_are_not_deep_nesting():
    raw = b'{"a": [' + b", ".join([b'[{"b": []}]'] * 40) + b"]}"
    assert raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    assert parse_json_object(raw)["a"][39] == [{"b": []}]
