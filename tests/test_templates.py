"""The Liquid environments: fields' arithmetic refuses what is no number; failures told in words."""
import pytest
from liquid.exceptions import FilterError, LoopIterationLimitError, UndefinedError

from connector.templates import FIELD_TEMPLATES, TEMPLATES, NotANumber, NothingToCalculate, why_not_rendered


@pytest.mark.parametrize("source", ["{{ x | times: 2 }}", "{{ 2 | times: x }}", "{{ x | abs }}",
                                    "{{ x | plus: 1 }}", "{{ x | at_least: 1 }}"])
def test_field_arithmetic_on_a_missing_value_has_nothing_to_calculate(source):
    with pytest.raises(NothingToCalculate):
        FIELD_TEMPLATES.from_string(source).render(x=None)
    assert TEMPLATES.from_string(source).render(x=None) in ("0", "2", "1")  # Slack's: Liquid's own nil-as-0


@pytest.mark.parametrize("value", ["four", True, [1]])
def test_field_arithmetic_on_what_is_no_number_is_refused(value):
    with pytest.raises(NotANumber):
        FIELD_TEMPLATES.from_string("{{ x | times: 2 }}").render(x=value)


def test_field_arithmetic_on_numbers_is_liquids():
    assert FIELD_TEMPLATES.from_string("{{ x | times: 20 }}|{{ '4.5' | plus: 1 }}|{{ x | default: 0 | times: 3 }}"
                                       ).render(x=4) == "80|5.5|12"
    assert FIELD_TEMPLATES.from_string("{{ x | default: 0 | times: 3 }}").render(x=None) == "0"


@pytest.mark.parametrize("source", ["{{ 5 | divided_by: 0 }}", "{{ 5 | modulo: 0 }}", "{{ 5 | divided_by: '0.0' }}"])
def test_field_division_by_zero_is_told_as_such(source):
    with pytest.raises(ZeroDivisionError) as raised:
        FIELD_TEMPLATES.from_string(source).render()
    assert why_not_rendered(raised.value) == "division by zero"


def test_render_failures_are_told_by_their_kind_never_by_liquids_message():
    assert why_not_rendered(UndefinedError("respondent.email", token=None)) == (
        "a name it reads has no value in this event (give it a default)")
    assert why_not_rendered(FilterError("ann@example.com", token=None)) == "a filter could not use the value it was given"
    assert why_not_rendered(LoopIterationLimitError("x", token=None)) == "its loops run more than 10,000 times"
    assert why_not_rendered(IndexError("ann@example.com")) == "a filter could not use the value it was given"
    assert why_not_rendered(NotANumber()) == "a calculation was given something that is not a number"
