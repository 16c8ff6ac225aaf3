import base64

import pytest

from connector.envelope import Envelope, open_envelope
from connector.errors import InvalidSignature, MalformedEnvelope

SIG = "sha256=" + "a" * 64


def test_text_and_base64_give_the_same_bytes():
    raw = '{"quote": "naïve {{x}}\\r\\n"}'
    assert open_envelope({"raw_body": raw, "signature": SIG}) == Envelope(raw.encode("utf-8"), SIG, "raw_body")
    encoded = base64.b64encode(raw.encode()).decode()
    assert open_envelope({"raw_body_base64": encoded, "signature": SIG}) == Envelope(
        raw.encode(), SIG, "body in raw_body_base64")


def test_base64_may_be_wrapped_or_unpadded():
    raw = b'{"type":"ping"}'
    encoded = base64.b64encode(raw).decode().rstrip("=")
    wrapped = "\n".join(encoded[i:i + 8] for i in range(0, len(encoded), 8))
    assert open_envelope({"raw_body_base64": wrapped, "signature": SIG})[0] == raw


@pytest.mark.parametrize("envelope, error", [
    ({"raw_body": "{}"}, InvalidSignature),
    ({"raw_body": "{}", "signature": ""}, InvalidSignature),
    ({"signature": SIG}, MalformedEnvelope),
    ({"raw_body": "{}", "raw_body_base64": "e30=", "signature": SIG}, MalformedEnvelope),
    ({"raw_body": ["{}"], "signature": SIG}, MalformedEnvelope),
    ({"raw_body_base64": "not base64!", "signature": SIG}, MalformedEnvelope),
    ({"raw_body": "\ud800", "signature": SIG}, MalformedEnvelope),
    ({"raw_body": "{}", "signature": SIG, "secret": "x"}, MalformedEnvelope),
])
def test_incomplete_envelopes(envelope, error):
    with pytest.raises(error):
        open_envelope(envelope)


@pytest.mark.parametrize("signature, says", [
    (123, "must be a string"), (["sha256=" + "a" * 64], "must be a string"), ({"v": 1}, "must be a string"),
    (None, "is missing"), ("  ", "is missing"),
])
def test_a_signature_that_is_not_a_string_is_not_called_missing(signature, says):
    # Before: 123 or a list was refused as "missing", which sends the caller looking for a field it sent.
    with pytest.raises(InvalidSignature) as refused:
        open_envelope({"raw_body": "{}", "signature": signature})
    assert says in refused.value.detail


@pytest.mark.parametrize("body", [b'{"a":1}', b'{"ab":1}', b'{"abc":1}'])
def test_base64_missing_one_or_two_padding_characters(body):
    encoded = base64.b64encode(body).decode()
    assert open_envelope({"raw_body_base64": encoded.rstrip("="), "signature": SIG}).raw == body
    assert open_envelope({"raw_body_base64": encoded, "signature": SIG}).raw == body


@pytest.mark.parametrize("encoded", ["e30=!!!!", "----", "e30=\x00"])
def test_characters_outside_the_base64_alphabet_are_refused_not_skipped(encoded):
    with pytest.raises(MalformedEnvelope, match="not valid base64"):
        open_envelope({"raw_body_base64": encoded, "signature": SIG})


@pytest.mark.parametrize("envelope, says", [
    ({"raw_body": "{}", "signature": SIG, "secret": "x"}, "remove 1 other property."),
    ({"raw_body": "{}", "signature": SIG, "secret": "x", "url": "y"}, "remove 2 other properties."),
    ({"signature": SIG}, "Send exactly one of 'raw_body' (text) or 'raw_body_base64'."),
    ({"raw_body": "{}", "raw_body_base64": "e30=", "signature": SIG}, "Send exactly one of"),
    ({"raw_body": ["{}"], "signature": SIG}, "'raw_body' must be a string"),
    ({"raw_body": "\ud800", "signature": SIG}, "'raw_body' is not valid Unicode text; send raw_body_base64."),
    ({"raw_body_base64": 5, "signature": SIG}, "'raw_body_base64' must be a base64 string."),
    ({"raw_body_base64": "e30", "signature": SIG, "x": 1}, "remove 1 other property."),
])
def test_a_malformed_envelope_says_what_to_change(envelope, says):
    with pytest.raises(MalformedEnvelope) as refused:
        open_envelope(envelope)
    assert says in refused.value.detail
