"""The Liquid environments a profile's templates are compiled in, and their failures in words.

Two environments: Slack messages' (Liquid as documented) and fields' (the same, except that
arithmetic refuses a value the event does not have). Which names a template may read is
checked by connector.profile when it loads; this module only says how templates run.
"""
from __future__ import annotations

from decimal import InvalidOperation
from functools import wraps
from typing import Any, Callable

from liquid import Environment, StrictDefaultUndefined, is_undefined
from liquid.exceptions import (ContextDepthError, LiquidError, LoopIterationLimitError, OutputStreamLimitError,
                               ResourceLimitError, UndefinedError)
from liquid.filter import string_filter


class _Environment(Environment):
    # Liquid has no access to Python objects; these limits keep a template from
    # looping or growing without end on a large event.
    loop_iteration_limit = 10_000
    output_stream_limit = 200_000
    context_depth_limit = 20


@string_filter
def blockquote(text: str) -> str:
    """Quote every line for Slack mrkdwn: a line break in a customer's words must not end the
    blockquote, or the next line could pass for the connector's own (a fake "*Sentiment:*")."""
    return "> " + text.replace("\n", "\n> ")


def _environment() -> _Environment:
    environment = _Environment(undefined=StrictDefaultUndefined)
    environment.filters["blockquote"] = blockquote
    # A profile is one file: there are no other templates to include, and looking for one
    # would read files at start-up. Without the tags, `{% include %}` is refused on its line.
    del environment.tags["include"], environment.tags["render"]
    return environment


# Slack messages: a message may well say 0. Without the decoding filters: the connector escapes
# every value for mrkdwn, and decoding text the respondent wrote after that turned
# "%3C!channel%3E" back into a live <!channel> (found by a security audit). An unknown filter
# is refused when the profile loads.
TEMPLATES = _environment()
DECODING_FILTERS = ("base64_decode", "base64_url_safe_decode", "url_decode")
for _name in DECODING_FILTERS:
    del TEMPLATES.filters[_name]


class NothingToCalculate(Exception):
    """An arithmetic filter in a field's template was given a value this event does not have."""


class NotANumber(ValueError):
    """An arithmetic filter in a field's template was given something that is not a number."""


# Liquid's arithmetic filters take a missing value (nil, or a key the event lacks) or text that
# is no number as 0: `{{ interview.quality_score | times: 20 }}` gave 0 for an event without a
# score, and the 0 was written over the Contact's value (found by an audit). A field's value
# must come from the event, so in fields' templates they refuse: a missing value leaves the field
# out as "no value in this event", and `| default: 0` before the filter still gives 0.
ARITHMETIC_FILTERS = ("abs", "at_least", "at_most", "ceil", "divided_by", "floor", "minus", "modulo", "plus",
                      "round", "times")
_DIVIDING = frozenset({"divided_by", "modulo"})


def _operand(value: object) -> None:
    if value is None or is_undefined(value):
        raise NothingToCalculate
    if isinstance(value, bool):  # Liquid would count true as 1
        raise NotANumber
    if isinstance(value, (int, float)):
        return
    if isinstance(value, str):
        try:
            float(value)
            return
        except ValueError:
            pass
    raise NotANumber


def _on_numbers_only(name: str, liquid_filter: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(liquid_filter)
    def strict(value: object, *args: object, **kwargs: object) -> object:
        _operand(value)
        operands = (*args, *kwargs.values())
        for operand in operands:
            _operand(operand)
        if name in _DIVIDING and operands and float(operands[0]) == 0:  # Liquid's own message names the values
            raise ZeroDivisionError
        return liquid_filter(value, *args, **kwargs)
    return strict


# Fields' values: Liquid's, with arithmetic on numbers only.
FIELD_TEMPLATES = _environment()
for _name in ARITHMETIC_FILTERS:
    FIELD_TEMPLATES.filters[_name] = _on_numbers_only(_name, FIELD_TEMPLATES.filters[_name])

# What rendering a template on an event can raise. Liquid's own errors, and Python errors some
# of python-liquid's filters let through on values they do not expect (`modulo` with a decimal
# and 0: decimal.InvalidOperation; `compact` on text: IndexError; `base64_decode` of bytes that
# are not UTF-8: UnicodeDecodeError). Either way it is this event's values, never the service.
RENDER_FAILURES = (LiquidError, ArithmeticError, LookupError, ValueError, TypeError)


def why_not_rendered(exc: Exception) -> str:
    """The kind of failure, in plain words and without Liquid's message: that quotes the path it
    read, and a path may hold a value of the event (`interview.metadata[respondent.email]`)."""
    if isinstance(exc, UndefinedError):
        return "a name it reads has no value in this event (give it a default)"
    if isinstance(exc, NotANumber):
        return "a calculation was given something that is not a number"
    if isinstance(exc, (ZeroDivisionError, InvalidOperation)):  # modulo of decimals by 0: InvalidOperation
        return "division by zero"
    if isinstance(exc, ArithmeticError):
        return "a number too large to calculate with"
    if isinstance(exc, UnicodeError):
        return "a filter was given text it could not decode"
    if isinstance(exc, LoopIterationLimitError):
        return f"its loops run more than {_Environment.loop_iteration_limit:,} times"
    if isinstance(exc, OutputStreamLimitError):
        return f"its output is longer than {_Environment.output_stream_limit:,} characters"
    if isinstance(exc, ContextDepthError):
        return "it nests too deeply"
    if isinstance(exc, ResourceLimitError):
        return "it goes past the limits set on templates"
    return "a filter could not use the value it was given"
