import base64

import pytest

from connector.envelope import open_envelope
from connector.errors import InvalidSignature, MalformedEnvelope

SIG = "sha256=" + "a" * 64


def test_text_and_base64_give_the_same_bytes():
    raw = '{"quote": "naïve {{x}}\\r\\n"}'
    assert open_envelope({"raw_body": raw, "signature": SIG}) == (raw.encode("utf-8"), SIG)
    encoded = base64.b64encode(raw.encode()).decode()
    assert open_envelope({"raw_body_base64": encoded, "signature": SIG})[0] == raw.encode()


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
