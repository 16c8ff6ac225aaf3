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
