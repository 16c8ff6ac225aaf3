"""Pure: a normalized answer + its salesforce block → the ``slack`` block of docs/design.md.

The chain posts ``text`` and ``blocks`` as they are (chat.postMessage), so this module
keeps them inside Slack's limits (https://api.slack.com/reference/block-kit/blocks):
at most 50 blocks, section text ≤ 3,000 characters, header text ≤ 150, fallback text
≤ 40,000; and it escapes ``&``, ``<`` and ``>`` in everything that came from the event,
so a customer's words cannot ping ``<!channel>`` or forge a link
(https://api.slack.com/reference/surfaces/formatting#escaping), and folds the line breaks
in it to spaces, so they cannot start a line that passes for the connector's own (a fake
"*Sentiment:*"). The quote alone keeps its lines, each inside the blockquote.
The body of each message is a Liquid template that a profile may replace.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


from connector.profile import SLACK_TEMPLATE_NAMES, Profile, compile_template
from connector.templates import RENDER_FAILURES, blockquote
from connector.text_limits import truncate
from connector.web_links import web_url

MAX_BLOCKS, MAX_SECTION, MAX_HEADER, MAX_TEXT, MAX_CONTEXT, MAX_FIELD = 50, 3000, 150, 40000, 2000, 2000
MAX_BUTTON_URL = 3000
QUIET_SKIPS = ("anonymous", "duplicate", "not_mapped")

_FACTS = ("*Sentiment:* {{ analysis.sentiment | downcase | default: \"not given\" }}"
          "   *Quality:* {% if interview.quality_score %}{{ interview.quality_score }}/5{% else %}n/a{% endif %}\n"
          "*Themes:* {{ analysis.themes | join: \", \" | default: \"none\" }}")
# `blockquote` (connector/templates.py) quotes every line of the quote, not just the first.
_QUOTE = "{% if analysis.quote %}{{ analysis.quote | blockquote }}\n{% endif %}"
DEFAULT_TEMPLATES = {
    "updated_contact": _QUOTE + _FACTS,
    "skipped": "*{{ reason | default: \"Not written to Salesforce.\" }}*\n" + _FACTS,
    "report": "{{ report.summary | default: \"A new report is ready.\" }}",
    "study": "*{{ study.title | default: \"A study\" }}* is now live for participants.",
    # Every lookup the chain tried, in order: "*contact_id* or *email*".
    "contact_not_found": ("No Salesforce Contact matched the lookup by "
                          "*{{ salesforce.lookups | map: \"strategy\" | join: \"* or *\" | default: \"nothing\" }}*, "
                          "so nothing was written.\n"
                          + _QUOTE + _FACTS),
}
_DEFAULTS = {name: compile_template(source) for name, source in DEFAULT_TEMPLATES.items()}
assert set(_DEFAULTS) == set(SLACK_TEMPLATE_NAMES), "every Slack message needs a built-in template"


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# A line break is whatever str.splitlines() ends a line at: \r\n, \n, \r, vertical tab, form
# feed, the file, group and record separators, NEL, U+2028 and U+2029. What one client draws
# as a space another may draw as a new line, so all of them count. (splitlines is also some
# ten times faster than a regular expression, on the verify path.)

def one_line(text: str) -> str:
    """`text` with each of its line breaks made a space (a break at the very end, nothing)."""
    return " ".join(text.splitlines())


def _quote_text(value: Any) -> Any:
    """The quote, escaped, with each of its line breaks made the \\n that `blockquote` quotes."""
    return escape_mrkdwn("\n".join(value.splitlines())) if isinstance(value, str) else _shown(value)


class _ShownMapping(Mapping):
    """A read-only view whose keys and strings come out as `_shown` makes them.

    Showing on access, not by copying the whole answer, keeps the cost proportional to
    what a template actually reads (two templates per event, a handful of values each).
    Liquid reaches keys without `__getitem__`: a for loop and `.first` read `items()`, and
    filters (join, sort, compact …) iterate the mapping; so keys are shown too, and
    `items()` and `values()` pair them here, where Mapping's own would look a shown key up."""

    __slots__ = ("_data", "_quotes")

    def __init__(self, data: dict, quotes: frozenset = frozenset()) -> None:
        self._data = data
        self._quotes = quotes  # the keys whose text keeps its lines, for `blockquote`

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        return _quote_text(value) if key in self._quotes else _shown(value)

    def __iter__(self):
        return (_shown(key) for key in self._data)

    def __len__(self) -> int:
        return len(self._data)

    def items(self) -> list[tuple[Any, Any]]:
        return [(_shown(key), self[key]) for key in self._data]

    def values(self) -> list[Any]:
        return [self[key] for key in self._data]

    def __repr__(self) -> str:
        # What `{{ respondent.attributes }}` prints: Liquid prints an object as Python's str of
        # it, so this reads as a plain dict would, shown, and not as this class's name and address.
        return repr(dict(self.items()))


def _shown(value: Any) -> Any:
    """A value of the event as a message shows it: text escaped for mrkdwn and on one line (its
    line breaks are the respondent's; a template's own are its author's, and stay)."""
    if isinstance(value, str):
        return escape_mrkdwn(one_line(value))
    if isinstance(value, dict):
        return _ShownMapping(value)
    if isinstance(value, (list, tuple)):
        return [_shown(item) for item in value]
    return value


def template_context(answer: dict, salesforce_block: dict) -> dict:
    """What templates see: the answer with its Salesforce block, shown once per event."""
    context = {key: _shown(value) for key, value in {**answer, "salesforce": salesforce_block}.items()}
    if isinstance(answer.get("analysis"), dict):
        # The quote keeps its lines, as in the built-in messages, for `blockquote` to quote
        # each one; folded, a customer's paragraphs would run together in every template.
        context["analysis"] = _ShownMapping(answer["analysis"], quotes=frozenset({"quote"}))
    return context


def _render(name: str, values: dict, context: dict | None, profile: Profile) -> str:
    custom = profile.slack.template(name)
    if custom is not None:
        try:
            return custom.render(**context).strip()
        except RENDER_FAILURES:
            pass  # a profile template that cannot render this event: the built-in one still can
    return BUILT_IN[name](values).strip()


# The built-in messages, in Python: the same text as DEFAULT_TEMPLATES (tests/test_slack.py
# renders both for every golden case and compares), at a fraction of Liquid's cost on the
# verify path. DEFAULT_TEMPLATES stays the reference a profile override starts from.
# They read only the handful of values below, escaped once per event, instead of going
# through the escaping view of the whole answer that a profile's own template needs.

def _filled(value: Any, fallback: str) -> str:
    # Liquid's `default`: nil, false, "" and [] take the fallback.
    return fallback if value in (None, False, "", []) else str(value)


def built_in_values(answer: dict, salesforce_block: dict) -> dict:
    """What the built-in messages show, escaped for mrkdwn and on one line but for the quote;
    `facts` and `quote_line` are the lines several messages share, built once."""
    analysis, interview = answer.get("analysis") or {}, answer.get("interview") or {}
    sentiment = _shown(analysis.get("sentiment"))
    score = _shown(interview.get("quality_score"))
    quality = f"{score}/5" if score not in (None, False) else "n/a"
    themes = ", ".join(str(theme) for theme in _shown(analysis.get("themes") or []))
    quote = _quote_text(analysis.get("quote"))
    facts = (f"*Sentiment:* {_filled(sentiment.lower() if isinstance(sentiment, str) else sentiment, 'not given')}"
             f"   *Quality:* {quality}\n*Themes:* {_filled(themes, 'none')}")
    return {
        "facts": facts,
        "quote_line": f"{blockquote(quote)}\n" if quote not in (None, False, "") else "",
        "reason": _shown(answer.get("reason")),
        "report_summary": _shown((answer.get("report") or {}).get("summary")),
        "study_title": _shown((answer.get("study") or {}).get("title")),
        "lookup_strategies": "* or *".join(
            str(_shown(lookup.get("strategy"))) for lookup in salesforce_block.get("lookups") or []),
    }


def _quote_then_facts(values: dict, lead: str = "") -> str:
    """`lead`, the quote, then the facts line, within a section's limit: the quote is what is
    cut. Cut at the section's end, a long quote (a Long Text Area holds 4,000 characters) took
    Sentiment, Quality and Themes with it (found by a security audit)."""
    quote_line, room = values["quote_line"], MAX_SECTION - len(lead) - len(values["facts"])
    if len(quote_line) > room:
        quote_line = truncate(quote_line[:-1], max(room - 1, 1))[0] + "\n"  # [:-1]: its line break, kept
    return lead + quote_line + values["facts"]


BUILT_IN = {
    "updated_contact": lambda v: _quote_then_facts(v),
    "skipped": lambda v: f"*{_filled(v['reason'], 'Not written to Salesforce.')}*\n" + v["facts"],
    "report": lambda v: _filled(v["report_summary"], "A new report is ready."),
    "study": lambda v: f"*{_filled(v['study_title'], 'A study')}* is now live for participants.",
    "contact_not_found": lambda v: _quote_then_facts(v, (
        f"No Salesforce Contact matched the lookup by *{_filled(v['lookup_strategies'], 'nothing')}*, "
        "so nothing was written.\n")),
}
assert set(BUILT_IN) == set(DEFAULT_TEMPLATES)


# -- Block Kit pieces, each kept within its own limit ------------------------------------

def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER)[0], "emoji": True}}


def section(mrkdwn: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION)[0]}}


def context_block(mrkdwn: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(mrkdwn, MAX_CONTEXT)[0]}]}


def link_button(label: str, url: str | None) -> dict | None:
    url = web_url(url)
    if url is None or len(url) > MAX_BUTTON_URL:
        return None
    return {"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}]}


def metric_fields(metrics: dict) -> dict | None:
    # A section holds at most 10 fields of at most 2,000 characters each.
    fields = [{"type": "mrkdwn", "text": truncate(f"*{_shown(str(key))}*\n{_shown(str(value))}", MAX_FIELD)[0]}
              for key, value in list(metrics.items())[:10]]
    return {"type": "section", "fields": fields} if fields else None


def message(title: str, body: str, *extra: dict | None) -> dict:
    """``text`` (notification and fallback) and ``blocks`` for one message."""
    # A title is one line: a line break in a name or study title would make the notification
    # (`text`) start with a line of the respondent's.
    title = one_line(title)
    blocks = [header(title)] + ([section(body)] if body else []) + [block for block in extra if block]
    # The header is plain_text, shown as written; `text` is mrkdwn like the body, so the
    # title's names and study titles are escaped there (a name "<!channel>" must not ping).
    title = escape_mrkdwn(title)
    text = truncate(f"{title}\n{body}" if body else title, MAX_TEXT)[0]
    return {"text": text, "blocks": blocks[:MAX_BLOCKS]}


# -- the messages ----------------------------------------------------------------------

def _who(answer: dict) -> str:
    respondent = answer.get("respondent") or {}
    name, company = respondent.get("name"), respondent.get("company")
    who = name or "A respondent"
    return f"{who} ({company})" if company else who


def _study_title(answer: dict) -> str:
    return (answer.get("interview") or {}).get("study_title") or "Koji interview"


def _interview_extras(answer: dict, block: dict) -> tuple[dict, dict | None]:
    """The context line and the transcript button: the same in the main and the "no Contact"
    message, so they are built once per event."""
    interview = answer.get("interview") or {}
    url = block.get("fields", {}).get("Transcript_URL__c") or interview.get("transcript_url")
    notes = f"Interview `{_shown(str(interview.get('id') or 'unknown'))}`"
    if block.get("warnings"):
        notes += f" · {len(block['warnings'])} Salesforce warning(s)"  # values adjusted, left out, or to check
    return context_block(notes), link_button("Open transcript", url)


def _is_negative(answer: dict) -> bool:
    return ((answer.get("analysis") or {}).get("sentiment") or "").lower() == "negative"


def _title(prefix: str, answer: dict) -> str:
    return f"{prefix}: {_who(answer)} · {_study_title(answer)}"


def _main_message(answer: dict, extras: tuple[dict, dict | None], values: dict, context: dict | None,
                  profile: Profile) -> dict:
    event_type = (answer.get("event") or {}).get("type")
    negative = _is_negative(answer)
    if event_type == "report.generated":
        report = answer.get("report") or {}
        return message(f":bar_chart: {report.get('title') or 'Koji report generated'}",
                       _render("report", values, context, profile),
                       metric_fields(report.get("metrics") or {}), link_button("Open report", report.get("url")))
    if event_type == "study.published":
        study = answer.get("study") or {}
        return message(":rocket: Koji study published", _render("study", values, context, profile),
                       link_button("Open study", study.get("url")))
    if answer.get("action") == "skip":
        return message(_title(":warning: Not written", answer),
                       _render("skipped", values, context, profile), *extras)
    if negative:
        prefix = ":rotating_light: Negative interview"
    elif answer.get("action") == "update_contact":
        prefix = ":speech_balloon: Salesforce Contact updated"
    else:
        prefix = ":speech_balloon: New Koji interview"
    return message(_title(prefix, answer), _render("updated_contact", values, context, profile), *extras)


def build_slack_message(answer: dict, salesforce_block: dict, profile: Profile) -> dict:
    """The ``slack`` block: what to post, whether to post, and the "no Contact" variant."""
    values = built_in_values(answer, salesforce_block)
    # The escaping view of the whole answer only when the profile has templates of its own.
    context = template_context(answer, salesforce_block) if profile.slack.compiled_templates else None
    extras = _interview_extras(answer, salesforce_block)
    not_found = message(_title(":mag: No Salesforce Contact", answer),
                        _render("contact_not_found", values, context, profile), *extras)
    if answer.get("skip_reason") in QUIET_SKIPS:
        return {"post": False, "text": "", "blocks": [], "contact_not_found": not_found, "kept_newer": None}
    main = _main_message(answer, extras, values, context, profile)
    return {"post": True, **main, "contact_not_found": not_found,
            "kept_newer": _kept_newer_message(answer, salesforce_block, extras, values, context, profile)}


def _kept_newer_message(answer: dict, block: dict, extras: tuple[dict, dict | None], values: dict,
                        context: dict | None, profile: Profile) -> dict | None:
    """For the chain's branch that leaves the Contact alone because it holds a later interview
    (`salesforce.keep_newer`): the main message said "Salesforce Contact updated", which a rep
    took for the values in Salesforce. None when there is no such branch for this event."""
    if answer.get("action") != "update_contact" or not block.get("keep_newer"):
        return None
    prefix = (":rotating_light: Negative interview, not written" if _is_negative(answer)
              else ":information_source: Not written")
    return message(_title(f"{prefix} (the Contact holds a later interview)", answer),
                   _render("updated_contact", values, context, profile), *extras)
