import unicodedata

import pytest
from hypothesis import given, strategies as st

from connector.web_links import web_url


def test_absolute_http_urls_with_a_host_are_kept_stripped():
    assert web_url(" https://app.koji.so/t/1?sig=9f1c ") == "https://app.koji.so/t/1?sig=9f1c"
    assert web_url("http://[::1]:8080/x") == "http://[::1]:8080/x"


def test_everything_else_is_not_a_link():
    for bad in ["", "   ", "app.koji.so/t/1", "javascript:alert(1)", "ftp://x.example/f", "https://x.example/a b",
                "https://x.example/\tb", "http://:80/", "https://", None, 42, ["https://x.example"]]:
        assert web_url(bad) is None, bad


def test_urls_that_make_urlsplit_raise_are_not_links():
    # urlsplit raises ValueError on these; before web_url they were a 500 on verify and map.
    assert web_url("http://[::1") is None
    assert web_url("https://x.example:99999/") is None
    assert web_url("https://x.example:port/") is None


# C0 controls, DEL and C1 controls that are not whitespace (`\s` already refused those).
CONTROLS = [chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)] if not chr(code).isspace()]


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_a_control_character_anywhere_is_not_a_link(control):
    # Slack refuses the whole message for such a button URL; Salesforce may refuse the whole PATCH.
    for bad in [f"https://ev{control}il.example/x", f"https://x.example/a{control}b", f"https://x.example/?q={control}",
                f"https://x.example/#{control}", f"https://x.example/{control}"]:
        assert web_url(bad) is None, ascii(bad)


def test_what_only_looks_like_a_control_character_is_still_a_link():
    # Percent-encoded controls are how a URL carries them; letters beyond ASCII are not controls.
    for good in ["https://x.example/%00%7F%C2%85", "https://bücher.example/straße?q=ü"]:
        assert web_url(good) == good


@given(st.text(max_size=200))
def test_any_text_gets_an_answer_never_an_exception(text):
    for candidate in (text, "https://" + text, "http://[" + text):
        url = web_url(candidate)
        assert url is None or (url.startswith(("http://", "https://"))
                               and not any(c.isspace() or unicodedata.category(c) == "Cc" for c in url))
