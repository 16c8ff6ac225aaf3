import subprocess
from importlib import resources

import pytest
from pydantic import SecretStr

from connector.signatures import SignatureError, sign, verify

# RFC 4231, test case 2: computed by the RFC authors, not by this code.
RFC4231_KEY, RFC4231_DATA = "Jefe", b"what do ya want for nothing?"
RFC4231_HMAC = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def sample_bytes(name: str) -> bytes:
    return resources.files("connector.samples").joinpath(name).read_bytes()


def test_sign_matches_the_rfc_4231_vector():
    assert sign(RFC4231_DATA, RFC4231_KEY) == "sha256=" + RFC4231_HMAC
    verify(RFC4231_DATA, "sha256=" + RFC4231_HMAC, [RFC4231_KEY])


@pytest.mark.parametrize("name", ["webhook-setup.analysis_ready.json", "salesforce-guide.analysis_ready.json"])
def test_signature_made_by_openssl_verifies(name, tmp_path):
    body = sample_bytes(name)
    path = tmp_path / "body.json"
    path.write_bytes(body)
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", "whsec_openssl", "-r", str(path)],
                            check=True, capture_output=True, text=True).stdout.split()[0]
    verify(body, f"sha256={digest}", [SecretStr("whsec_openssl")])
    verify(body, f"sha256={digest.upper()}", [SecretStr("whsec_openssl")])


def test_any_active_secret_verifies_during_rotation():
    body = b'{"type":"ping"}'
    secrets = [SecretStr("old-secret"), SecretStr("new-secret")]
    verify(body, sign(body, "old-secret"), secrets)
    verify(body, sign(body, "new-secret"), secrets)
    with pytest.raises(SignatureError):
        verify(body, sign(body, "retired-secret"), secrets)


def test_reserialized_json_does_not_verify():
    raw = sample_bytes("salesforce-guide.analysis_ready.json")
    import json
    reserialized = json.dumps(json.loads(raw)).encode()
    assert reserialized != raw
    with pytest.raises(SignatureError, match="did not match"):
        verify(reserialized, sign(raw, "s3cret"), ["s3cret"])


@pytest.mark.parametrize("header, message", [
    (None, "missing"), ("", "missing"), ("   ", "missing"),
    ("sha1=abc", "malformed"), ("sha256=xyz", "malformed"), ("sha256=" + "a" * 63, "malformed"),
    ("sha256=" + "a" * 65, "malformed"),
    ("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "malformed"),
    ("sha256=" + "0" * 64, "did not match"),
])
def test_bad_headers_raise_the_domain_error_only(header, message):
    with pytest.raises(SignatureError, match=message) as caught:
        verify(b"{}", header, ["s3cret"])
    expected = sign(b"{}", "s3cret")
    assert expected[7:] not in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_no_secret_configured_never_verifies():
    with pytest.raises(SignatureError):
        verify(b"{}", sign(b"{}", ""), [])


def test_surrounding_whitespace_is_ignored_but_trailing_characters_are_not():
    body = b'{"type":"ping"}'
    verify(body, f"  {sign(body, 's3cret')}\n", ["s3cret"])
    with pytest.raises(SignatureError, match="malformed"):
        verify(body, sign(body, "s3cret") + "ff", ["s3cret"])
