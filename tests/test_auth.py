import pytest
from pydantic import SecretStr

from connector.auth import require_api_key
from connector.errors import Unauthorized

KEYS = [SecretStr("key-one"), SecretStr("key-two")]


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer key-one"}, {"Authorization": "bearer  key-two "},
                                     {"X-API-Key": "key-two"}, {"X-API-Key": "key-one", "Authorization": "Bearer x"}])
def test_accepted(headers):
    require_api_key(headers, KEYS)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic key-one"},
                                     {"X-API-Key": "key-three"}, {"Authorization": "Bearer key-onex"},
                                     {"X-API-Key": "ключ"}])
def test_refused_without_saying_which_key_exists(headers):
    with pytest.raises(Unauthorized) as caught:
        require_api_key(headers, KEYS)
    assert "key-one" not in caught.value.detail and caught.value.status == 401


def test_no_configured_key_refuses_everything():
    with pytest.raises(Unauthorized):
        require_api_key({"X-API-Key": ""}, [])


@pytest.mark.parametrize("headers, says", [
    ({}, "Send the connector API key as 'Authorization: Bearer <key>' or 'X-API-Key'."),
    ({"X-API-Key": "  "}, "Send the connector API key as"),
    ({"Authorization": "Bearer key-three"}, "The connector API key in Authorization is not accepted."),
    ({"X-API-Key": "key-three"}, "The connector API key in X-API-Key is not accepted."),
    # Found by an audit: a right Bearer key next to a stale X-API-Key was "not accepted", and
    # the caller checked the Bearer key.
    ({"X-API-Key": "key-three", "Authorization": "Bearer key-one"},
     "The connector API key in X-API-Key is not accepted (when both X-API-Key and Authorization are sent, "
     "X-API-Key is the one checked)."),
])
def test_a_missing_key_is_told_apart_from_a_wrong_one(headers, says):
    with pytest.raises(Unauthorized) as caught:
        require_api_key(headers, KEYS)
    assert says in caught.value.detail
