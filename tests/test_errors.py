"""Every problem type the connector can answer is documented where its `type` URI points."""
import re
from pathlib import Path

from connector import errors

PROBLEMS_DOC = Path(__file__).resolve().parents[1] / "docs" / "problems.md"


def all_problems(cls=errors.Problem):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_problems(sub)


def test_every_problem_type_has_its_section_with_its_status():
    sections = dict(re.findall(r"^## ([a-z-]+)\n\*\*(\d{3})\.\*\*", PROBLEMS_DOC.read_text(), re.M))
    problems = list(all_problems())
    assert problems
    for problem in problems:
        assert problem().type.endswith("problems.md#" + problem.slug)
        assert sections.get(problem.slug) == str(problem.status), problem.slug
