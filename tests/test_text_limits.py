from collections import Counter

from hypothesis import given, strategies as st

from connector.text_limits import ELLIPSIS, join_within, truncate

import pytest

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(" \t\n"))


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("short", 10, ("short", False)),
    ("exactly ten", 11, ("exactly ten", False)),
    ("hello wonderful world", 12, ("hello" + ELLIPSIS, True)),
    ("hello wonderful world", 16, ("hello wonderful" + ELLIPSIS, True)),
    ("unbreakable", 5, ("unbr" + ELLIPSIS, True)),
    ("😀😀😀😀 x", 5, ("😀😀😀😀" + ELLIPSIS, True)),
])
def test_truncate_cases(text, limit, expected):
    assert truncate(text, limit) == expected


def test_truncate_refuses_a_zero_limit():
    with pytest.raises(ValueError):
        truncate("abc", 0)


@given(texts, st.integers(min_value=1, max_value=60))
def test_truncated_text_fits_and_is_a_prefix(text, limit):
    result, cut = truncate(text, limit)
    assert len(result) <= limit
    if not cut:
        assert result == text
    else:
        assert result.endswith(ELLIPSIS)
        assert text.startswith(result[:-1])


@given(texts, st.integers(min_value=2, max_value=60))
def test_cut_falls_on_a_word_boundary_when_one_exists(text, limit):
    result, cut = truncate(text, limit)
    if not cut:
        return
    kept = result[:-1]
    room = limit - 1
    has_boundary = any(text[i].isspace() and not text[i - 1].isspace() for i in range(1, room + 1))
    if has_boundary:
        assert text[len(kept)].isspace()
        assert not kept[-1].isspace()
    else:
        assert len(kept) == room


@given(st.lists(st.text(alphabet="abcé xyz😀", min_size=1, max_size=30)), st.integers(min_value=0, max_value=120))
def test_join_within_keeps_whole_items_only(items, limit):
    joined, dropped = join_within(items, ", ", limit)
    assert len(joined) <= limit
    kept = joined.split(", ") if joined else []
    # Every item is either kept whole or dropped whole, and nothing else appears.
    assert Counter(kept) + Counter(dropped) == Counter(items)
    assert [item for item in items if item in kept] == kept or len(set(items)) < len(items)


def test_join_within_drops_the_theme_that_does_not_fit():
    assert join_within(["pricing", "onboarding friction", "api"], ", ", 14) == ("pricing, api", ["onboarding friction"])
