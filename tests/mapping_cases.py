"""The golden mapping cases (tests/fixtures/mapping), shared by the mapping and Slack tests."""
import json
from pathlib import Path

from connector.profile_file import load_profile

FIXTURES = Path(__file__).parent / "fixtures" / "mapping"
CASES = sorted(path.name.removesuffix(".input.json") for path in FIXTURES.glob("*.input.json"))
EXAMPLES = Path(__file__).parent.parent / "examples" / "profiles"
DEFAULT = load_profile(None)


def load_case(case: str) -> tuple[dict, dict]:
    """(input answer, expected {"salesforce", "slack"}) of one golden case."""
    answer = json.loads((FIXTURES / f"{case}.input.json").read_text(encoding="utf-8"))
    expected = json.loads((FIXTURES / f"{case}.expected.json").read_text(encoding="utf-8"))
    return answer, expected
