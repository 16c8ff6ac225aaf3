"""connector.json_codec: orjson's speed and strictness, with integers beyond 64 bits kept
exact both ways (orjson alone rounds them to floats on the way in and refuses them on the
way out)."""
import json

import orjson
import pytest
from flask import jsonify

from conftest import sample, sample_bytes
from connector import json_codec

TWENTY_THREE_DIGITS = 12345678901234567890123
THIRTY_DIGITS = 123456789012345678901234567890


@pytest.fixture
def stdlib_reads(monkeypatch):
    """Every call of the standard library's json.loads, which json_codec falls back to."""
    calls = []
    real_loads = json.loads

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real_loads(*args, **kwargs)

    monkeypatch.setattr(json, "loads", spy)
    return calls


@pytest.mark.parametrize("number", [TWENTY_THREE_DIGITS, -TWENTY_THREE_DIGITS, THIRTY_DIGITS, 2**64, -2**63 - 1, 10**300])
def test_integers_beyond_64_bits_round_trip_exactly(app, number):
    raw = json.dumps({"crm_id": number, "score": 4.5}).encode()
    parsed = json_codec.loads(raw)
    assert parsed == {"crm_id": number, "score": 4.5}
    assert type(parsed["crm_id"]) is int

    assert json.loads(json_codec.dumps(parsed)) == {"crm_id": number, "score": 4.5}
    assert app.json.loads(raw.decode()) == parsed
    assert json.loads(app.json.dumps(parsed)) == parsed
    response = app.json.response(parsed)
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == parsed
    with app.app_context():
        assert json.loads(jsonify(interview={"metadata": parsed}).get_data()) == {"interview": {"metadata": parsed}}


def test_the_standard_library_reads_only_bodies_that_may_hold_such_an_integer(stdlib_reads):
    for name in ("salesforce-guide.analysis_ready.json", "interview.full.json", "automation.interview_completed.json"):
        assert json_codec.loads(sample_bytes(name)) == orjson.loads(sample_bytes(name))
    # 19-digit integers stay orjson's alone. 20-digit ones up to 2**64 - 1 and 19-digit negative
    # ones down to -2**63 are in range too, but the check cannot tell them from the integers past
    # the edges (a run of 20 digits or minus signs): they are read a second time, to the same ints.
    assert json_codec.loads(b"[9223372036854775807, 1234567890123456789]") == [2**63 - 1, 1234567890123456789]
    assert stdlib_reads == []
    for edge in (2**64 - 1, -2**63):
        assert json_codec.loads(str(edge).encode()) == orjson.loads(str(edge).encode()) == edge
    assert len(stdlib_reads) == 2
    assert json_codec.loads(b'{"id": 18446744073709551616}') == {"id": 2**64}
    assert len(stdlib_reads) == 3


def test_a_long_digit_run_outside_an_integer_reads_as_orjson_reads_it(stdlib_reads):
    raw = json.dumps({"phone": "123456789012345678901234", "divider": "-" * 24,
                      "uuid": "12345678-1234-1234-1234-123456789012",
                      "floats": [0.1, 0.30000000000000004, 1.7976931348623157e308, 5e-324, -0.0, 2.5e-7,
                                 123456789012345678901.5, 1.2345678901234567e+29],
                      "escaped": "caf\u00e9 \U0001f600", "nested": [{"n": [1, -2, 3.0]}]}, ensure_ascii=True).encode()
    raw += b" \n"
    parsed = json_codec.loads(raw)
    # repr tells -0.0 from 0.0 and 1 from 1.0: the values are orjson's, bit for bit.
    assert repr(parsed) == repr(orjson.loads(raw))
    assert len(stdlib_reads) == 1  # the runs in the strings cost one second reading, nothing else


WITH_A_LONG_INTEGER = b'{"crm_id": 123456789012345678901234567890, "x": %s}'


@pytest.mark.parametrize("bad", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" * 400,
                                 b'"\xff"', b'"\xed\xa0\x80"', b"[1,]", b'"\x01"', b"01"])
def test_a_body_with_a_long_integer_is_refused_exactly_when_orjson_refuses_it(bad):
    assert json_codec.loads(WITH_A_LONG_INTEGER % b"1") == {"crm_id": THIRTY_DIGITS, "x": 1}
    body = WITH_A_LONG_INTEGER % bad
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    with pytest.raises(ValueError):
        json_codec.loads(body)


def test_a_bom_or_a_lone_surrogate_in_text_is_refused_with_a_long_integer_too():
    assert json_codec.loads((WITH_A_LONG_INTEGER % b'"ok"').decode()) == {"crm_id": THIRTY_DIGITS, "x": "ok"}
    for body in (b"\xef\xbb\xbf" + WITH_A_LONG_INTEGER % b"1", "\ufeff" + (WITH_A_LONG_INTEGER % b"1").decode(),
                 (WITH_A_LONG_INTEGER % b'"?"').decode().replace("?", "\ud800")):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(body)
        with pytest.raises(ValueError):
            json_codec.loads(body)


def test_the_standard_library_reading_refuses_nan_infinity_and_invalid_utf8_on_its_own():
    # orjson refuses all of these before the standard library runs; this reading must not
    # accept them should that ever change.
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        with pytest.raises(ValueError, match="not valid JSON"):
            json_codec._loads_with_exact_integers(WITH_A_LONG_INTEGER % constant)
    with pytest.raises(UnicodeDecodeError):
        json_codec._loads_with_exact_integers(WITH_A_LONG_INTEGER % b'"\xff"')


def test_nesting_too_deep_for_the_standard_library_is_a_value_error():
    # orjson reads 1,000 levels; the second reading would meet Python's recursion limit.
    raw = b"[" * 1000 + b"123456789012345678901234567890" + b"]" * 1000
    assert orjson.loads(raw)
    with pytest.raises(ValueError, match="depth"):
        json_codec.loads(raw)
    assert _innermost(json_codec.loads(b"[" * 20 + b"123456789012345678901234567890" + b"]" * 20)) == THIRTY_DIGITS


def _innermost(nested):
    while isinstance(nested, list):
        (nested,) = nested
    return nested


def test_dumps_falls_back_only_for_the_64_bit_limit(app):
    assert app.json.dumps({"id": -2**63 - 1}) == '{"id":-9223372036854775809}'
    assert json_codec.dumps({"id": 2**64, "name": "Zoë", "n": [1, 2.5, None, True]}) == \
        '{"id":18446744073709551616,"name":"Zoë","n":[1,2.5,null,true]}'.encode()
    assert json_codec.dumps({"id": 2**64 - 1, "when": -2**63}) == orjson.dumps({"id": 2**64 - 1, "when": -2**63})
    # What orjson refuses before it meets the integer it still refuses, with its own error.
    with pytest.raises(orjson.JSONEncodeError, match="Dict key must be str"):
        json_codec.dumps({1: "a", "id": 2**64})
    with pytest.raises(orjson.JSONEncodeError, match="not JSON serializable"):
        json_codec.dumps({"set": {1}, "id": 2**64})
    # Past the integer, the standard library writes no NaN (orjson would write null).
    with pytest.raises(ValueError, match="Out of range float"):
        json_codec.dumps({"id": 2**64, "x": float("nan")})


def test_a_webhook_with_a_30_digit_metadata_id_is_answered_with_that_exact_id(koji):
    payload = sample("salesforce-guide.analysis_ready.json")
    payload["data"]["metadata"] = {"crm_id": THIRTY_DIGITS}
    raw = json.dumps(payload).encode()
    assert b'"crm_id": 123456789012345678901234567890' in raw

    response = koji.deliver(raw)

    assert response.status_code == 200, response.get_data(as_text=True)
    answer = json.loads(response.get_data())
    assert answer["interview"]["metadata"]["crm_id"] == THIRTY_DIGITS
    assert type(answer["interview"]["metadata"]["crm_id"]) is int


def test_the_standard_library_reading_refuses_an_encoded_surrogate_on_its_own():
    # CESU-8 / WTF-8 bytes for U+D800: orjson refuses them first; the second reading must too,
    # rather than decode the bytes leniently (json.loads on bytes allows surrogates).
    with pytest.raises(UnicodeDecodeError):
        json_codec._loads_with_exact_integers(WITH_A_LONG_INTEGER % b'"\xed\xa0\x80"')


# -- lone surrogate escapes ------------------------------------------------------------------

LONE_SURROGATES = {  # body → what it reads as; orjson refuses each whole
    "a high one at the end of a text": (b'{"quote": "Great product \\ud83d"}', {"quote": "Great product \ufffd"}),
    "a high one before a letter": (b'["\\ud83dx"]', ["\ufffdx"]),
    "a high one before another escape": (b'["\\ud83d\\u0041\\n"]', ["\ufffdA\n"]),
    "two high ones": (b'["\\ud83d\\uD83D"]', ["\ufffd\ufffd"]),
    "a low one alone": (b'["\\ude00 and \\uDFFF"]', ["\ufffd and \ufffd"]),
    "a low one before a pair": (b'["\\ude00\\ud83d\\ude00"]', ["\ufffd\U0001f600"]),
    "in a key": (b'{"\\udbff": 1, "ok": "\\ud800"}', {"\ufffd": 1, "ok": "\ufffd"}),
    # An escaped backslash and "ud83d" are text, not an escape; an escaped quote ends no string.
    "beside escaped backslashes and quotes": (b'["\\\\ud83d", "\\\\\\ud83d", "\\"\\ud83d\\"", "\\/\\ud83d"]',
                                              ["\\ud83d", "\\\ufffd", '"\ufffd"', "/\ufffd"]),
    "with an integer beyond 64 bits": (b'{"id": 123456789012345678901234567890, "q": "\\ud83d", "f": 0.1}',
                                       {"id": THIRTY_DIGITS, "q": "\ufffd", "f": 0.1}),
}


@pytest.mark.parametrize("raw, read", LONE_SURROGATES.values(), ids=LONE_SURROGATES)
def test_a_lone_surrogate_escape_reads_as_the_replacement_character_and_can_be_written(raw, read):
    # Before: refused whole, as orjson refuses it (JavaScript's JSON.stringify writes it for a text cut in
    # the middle of an emoji, so a webhook lost its interview over half an emoji).
    with pytest.raises(orjson.JSONDecodeError, match="surrogate"):
        orjson.loads(raw)
    parsed = json_codec.loads(raw)
    assert parsed == read and json_codec.loads(raw.decode()) == read
    assert json_codec.loads(json_codec.dumps(parsed)) == read  # orjson writes no lone surrogate: none is left


def test_a_pair_of_escapes_still_reads_as_its_one_character(stdlib_reads):
    assert json_codec.loads(b'{"q": "\\ud83d\\ude00 \\uD83D\\uDE00 \\u00e9"}') == {"q": "\U0001f600 \U0001f600 \u00e9"}
    assert stdlib_reads == []


@pytest.mark.parametrize("raw", [
    b'{"q": "\\ud83d",}', b'{"q": "\\ud83d", "s": NaN}', b'{"q": "\\ud83d", "s": 1e400}', b'["\\ud83d", 01]',
    b'["\\ud83d", "\\q"]', b'["\\ud83d", "\x01"]', b'["\\ud83d"] x', b'["\\ud83d"',
])
def test_anything_else_wrong_beside_a_lone_surrogate_is_refused_where_orjson_finds_it(raw):
    # The escapes are rewritten six characters for six: the second reading's refusal has the same place.
    replaced = raw.replace(b"\\ud83d", b"\\ufffd")
    with pytest.raises(orjson.JSONDecodeError) as expected:
        orjson.loads(replaced)
    with pytest.raises(orjson.JSONDecodeError) as refused:
        json_codec.loads(raw)
    assert (refused.value.msg, refused.value.pos, refused.value.lineno, refused.value.colno) == (
        expected.value.msg, expected.value.pos, expected.value.lineno, expected.value.colno)


@pytest.mark.parametrize("raw", [b'["\xed\xa0\xbd"]', b'["\xed\xa0\xbd \\ud83d"]', b'["\\ud83d \xff"]',
                                 b'\xef\xbb\xbf["\\ud83d"]', "[\"\ud83d\"]", '["\\ud83d \ud800"]'],
                         ids=["encoded surrogate", "encoded surrogate and escape", "not UTF-8", "BOM",
                              "a surrogate in the text itself", "and an escape"])
def test_a_surrogate_that_is_not_an_escape_stays_refused(raw):
    with pytest.raises(ValueError):
        json_codec.loads(raw)


def test_a_webhook_with_half_an_emoji_in_its_quote_is_answered_with_the_rest_of_it(koji):
    # JSON.stringify({quote: "Great product 😀".slice(0, 15)}) in Node: {"quote":"Great product \ud83d"}.
    raw = sample_bytes("salesforce-guide.analysis_ready.json").replace(
        b'"quote": "We love the product', b'"quote": "\\ud83d We love the product').replace(
        b"three weekends.", b"three weekends \\ud83d")
    assert raw.count(b"\\ud83d") == 2

    response = koji.deliver(raw)  # the signature is over these very bytes, escapes and all

    assert response.status_code == 200, response.get_data(as_text=True)
    answer = json.loads(response.get_data())
    assert answer["action"] == "update_contact"
    quote = answer["salesforce"]["fields"]["Latest_Customer_Quote__c"]
    assert quote == "\ufffd We love the product, but connecting it to our CRM took our admin three weekends \ufffd"
