from collections import Counter

from hypothesis import given, strategies as st

from connector.text_limits import ELLIPSIS, _attached, join_within, truncate

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


@given(texts, st.integers(min_value=2, max_value=200))
def test_cut_falls_on_a_word_boundary_when_one_is_near_the_limit(text, limit):
    result, cut = truncate(text, limit)
    if not cut:
        return
    kept = result[:-1]
    room = limit - 1
    window = max(room // 5, 20)
    near = any(text[i].isspace() and not text[i - 1].isspace() for i in range(max(1, room - window + 1), room + 1))
    if near:
        assert text[len(kept)].isspace()
        assert not kept[-1].isspace()
        assert len(kept) >= room - window
    else:
        # A hard cut: at the limit, or moved back so no accent or emoji sequence is split
        # (unless the text is marks only and nothing whole could be kept).
        assert len(kept) <= room
        splits = _attached(text[len(kept)]) or kept.endswith("\u200d")
        assert not splits or len(kept) == room


def test_a_word_far_from_the_limit_does_not_throw_the_text_away():
    # "a " + 10,000 letters used to become "a…" in a 4,000-character field.
    result, _ = truncate("a " + "y" * 9998, 4000)
    assert len(result) == 4000
    assert truncate(">" + "x" * 10000, 3000)[0] == ">" + "x" * 2998 + ELLIPSIS


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("e\u0301" * 10, 6, "e\u0301e\u0301" + ELLIPSIS),              # not "é" + "e" with its accent cut off
    ("\U0001f469\u200d\U0001f4bb" * 5, 5, "\U0001f469\u200d\U0001f4bb" + ELLIPSIS),  # no dangling joiner
    ("\U0001f44d\U0001f3fd" * 5, 4, "\U0001f44d\U0001f3fd" + ELLIPSIS),   # the skin tone stays with its hand
])
def test_a_hard_cut_splits_no_accent_or_emoji_sequence(text, limit, expected):
    assert truncate(text, limit) == (expected, True)


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


def test_a_ranked_list_ends_at_the_first_item_that_does_not_fit():
    items = ["first", "a-second-choice-too-long", "third"]
    assert join_within(items, ", ", 20) == ("first, third", ["a-second-choice-too-long"])
    # "third" would read as the second choice: a ranking stops where it no longer fits.
    assert join_within(items, ", ", 20, ranked=True) == ("first", ["a-second-choice-too-long", "third"])


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("a bcdefghij", 5, "a"),             # a one-letter first word is still a word to end at
    ("ab cdefgh", 6, "ab"),              # the boundary 3 characters back from the cut
    ("ab  cdefghijk", 6, "ab"),          # a run of spaces: the cut falls before it, not inside it
])
def test_the_cut_ends_the_last_word_that_fits(text, limit, expected):
    assert truncate(text, limit) == (expected + ELLIPSIS, True)


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("\u2764\ufe0f" * 5, 4, "\u2764\ufe0f" + ELLIPSIS),                      # red heart: VS16 stays on it
    ("\u2229\ufe00" * 5, 4, "\u2229\ufe00" + ELLIPSIS),                      # VS1, the first variation selector
    ("\U0001f44d\U0001f3fb" * 5, 4, "\U0001f44d\U0001f3fb" + ELLIPSIS),      # lightest skin tone
    ("\U0001f44d\U0001f3ff" * 5, 4, "\U0001f44d\U0001f3ff" + ELLIPSIS),      # darkest skin tone
    ("\U0001f469\u200d\U0001f4bb" * 5, 6, "\U0001f469\u200d\U0001f4bb" + ELLIPSIS),  # cut right after a joiner
])
def test_a_hard_cut_keeps_every_emoji_modifier_with_its_character(text, limit, expected):
    assert truncate(text, limit) == (expected, True)


def test_marks_with_nothing_whole_before_them_are_cut_hard_and_still_fit():
    # Nothing whole can be kept: the cut stays at the limit rather than throwing all away.
    assert truncate("\u0301" * 10, 5) == ("\u0301" * 4 + ELLIPSIS, True)
    assert truncate("e" + "\u0301" * 10, 5) == ("e" + "\u0301" * 3 + ELLIPSIS, True)


def test_join_within_keeps_items_that_fill_the_limit_exactly():
    assert join_within(["pricing"], ", ", 7) == ("pricing", [])
    assert join_within(["pricing", "api"], ", ", 12) == ("pricing, api", [])
    assert join_within(["pricing", "api"], ", ", 11) == ("pricing", ["api"])


@pytest.mark.parametrize(("word", "limit", "cut_at_the_word"), [
    # The cut moves back to a word's end at most a fifth of the room (199 // 5 = 39 characters)...
    (161, 200, True), (160, 200, False),
    # ...and at least 20 characters, however small the room.
    (31, 51, True), (30, 51, False),
])
def test_the_cut_looks_back_for_a_word_end_a_fifth_of_the_room_at_least_20(word, limit, cut_at_the_word):
    text = "a" * word + " " + "b" * limit
    expected = "a" * word if cut_at_the_word else text[:limit - 1]
    assert truncate(text, limit) == (expected + ELLIPSIS, True)
