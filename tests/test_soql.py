import re

import pytest
from hypothesis import given, strategies as st

from urllib.parse import quote

from connector.soql import MAX_URI_BYTES, MAX_WHERE_CHARS, SoqlError, lookup_query, quote_literal

# An independent reading of Salesforce's escape table, so the test does not trust the
# code it checks: anything but these escapes inside the quotes is an error.
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_TOKEN = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))|([^\\'])", re.S)


def decode(literal: str) -> str:
    assert literal[0] == "'" and literal[-1] == "'", "literal must be single-quoted"
    body, out, pos = literal[1:-1], [], 0
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        assert match, f"bare quote or dangling backslash at {pos}"
        hex_code, escaped, plain = match.groups()
        if hex_code:
            out.append(chr(int(hex_code, 16)))
        elif escaped is not None:
            assert escaped.lower() in _SIMPLE or escaped in _SIMPLE, f"illegal escape \\{escaped}"
            out.append(_SIMPLE.get(escaped, _SIMPLE.get(escaped.lower())))
        else:
            out.append(plain)
        pos = match.end()
    return "".join(out)


@pytest.mark.parametrize(("value", "expected"), [
    ("o'brien@x.com", r"'o\'brien@x.com'"),
    ("back\\slash", r"'back\\slash'"),
    ('say "hi"', r"""'say \"hi\"'"""),
    ("line\nbreak\ttab", r"'line\nbreak\ttab'"),
    ("bell\x07", r"'bell\u0007'"),
    ("zoë 😀", "'zoë 😀'"),
])
def test_quote_literal_examples(value, expected):
    assert quote_literal(value) == expected


@given(st.text())
def test_every_string_decodes_back_to_itself(value):
    assert decode(quote_literal(value)) == value


@given(st.text(alphabet=st.sampled_from("'\\\"\n\r\t\b\f\x00\x1f\x7fa😀%_")))
def test_escape_heavy_strings_decode_back(value):
    literal = quote_literal(value)
    assert decode(literal) == value
    # No unescaped quote can end the literal early.
    assert re.fullmatch(r"'(?:\\.|[^\\'])*'", literal, re.S)


def test_lookup_query_shape():
    assert lookup_query("Contact", "Email", "o'brien@x.com") == (
        r"SELECT Id FROM Contact WHERE Email = 'o\'brien@x.com' LIMIT 1"
    )
    assert lookup_query("Contact", "Koji_Id__c", "u1", select=("Id", "Email")) == (
        "SELECT Id, Email FROM Contact WHERE Koji_Id__c = 'u1' LIMIT 1"
    )


def test_lookup_query_refuses_a_where_clause_over_the_limit_without_echoing_it():
    value = "x" * MAX_WHERE_CHARS
    with pytest.raises(SoqlError) as caught:
        lookup_query("Contact", "Email", value)
    assert "4000" in str(caught.value) and value not in str(caught.value)


def test_lookup_query_accepts_the_longest_value_that_fits():
    value = "x" * (MAX_WHERE_CHARS - len("Email = ''"))
    assert value in lookup_query("Contact", "Email", value)


def test_lookup_query_refuses_a_query_whose_get_would_pass_the_uri_limit():
    # 1,900 CJK characters fit the WHERE clause's 4,000 characters; percent-encoded (9 bytes
    # each) they make a request URI Salesforce answers 414 to.
    value = "中" * 1900
    assert len(f"Koji_Id__c = '{value}'") <= MAX_WHERE_CHARS
    with pytest.raises(SoqlError) as caught:
        lookup_query("Contact", "Koji_Id__c", value)
    assert "16384" in str(caught.value) and "中" not in str(caught.value)


@given(st.text(min_size=1000, max_size=3990))
def test_a_query_that_is_built_fits_salesforces_request_uri(value):
    try:
        query = lookup_query("Contact", "Koji_Id__c", value)
    except SoqlError:
        return
    assert len("/services/data/v59.0/query?q=" + quote(query, safe="")) <= MAX_URI_BYTES


@pytest.mark.parametrize("name", ["Email; DELETE", "1Field", "", "Em ail", "Email'"])
def test_lookup_query_refuses_names_that_are_not_api_names(name):
    with pytest.raises(SoqlError):
        lookup_query("Contact", name, "x")


def test_quote_literal_refuses_non_strings():
    with pytest.raises(SoqlError):
        quote_literal(5)  # type: ignore[arg-type]


def test_del_is_escaped_like_the_other_control_characters():
    # DEL has no short escape either; sent raw it would make the query unprintable.
    assert quote_literal("a\x7fb") == r"'a\u007fb'"


def test_lookup_query_refuses_a_where_clause_one_character_over_the_limit():
    value = "x" * (MAX_WHERE_CHARS + 1 - len("Email = ''"))
    with pytest.raises(SoqlError):
        lookup_query("Contact", "Email", value)


# The GET's path on the longest API version number the connector allows for (vNNN.N).
_LONGEST_QUERY_PATH = "/services/data/v999.9/query?q="


def _uri_bytes(query: str) -> int:
    return len(_LONGEST_QUERY_PATH + quote(query, safe=""))


def test_lookup_query_accepts_a_query_whose_get_is_exactly_at_the_uri_limit():
    # Salesforce answers 414 to a request URI *over* 16,384 bytes: exactly 16,384 is fine.
    empty = _uri_bytes(lookup_query("Contact", "Koji_Id__c", ""))
    cjk, ascii_rest = divmod(MAX_URI_BYTES - empty, len(quote("中")))
    value = "中" * cjk + "x" * ascii_rest
    query = lookup_query("Contact", "Koji_Id__c", value)
    assert _uri_bytes(query) == MAX_URI_BYTES
    with pytest.raises(SoqlError) as caught:
        lookup_query("Contact", "Koji_Id__c", value + "x")
    assert f"{MAX_URI_BYTES + 1}-byte" in str(caught.value)
