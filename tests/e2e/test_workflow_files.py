"""Static checks of the shipped n8n workflow files (no n8n needed).

What the house style asks of exported workflows: pretty-printed JSON, `"active": false`,
credentials only as `{id, name}` references, no secrets or auth headers; and what the
chain must keep: one Settings node, every decision of the connector on a visible branch,
every Salesforce/Slack failure through the release of the claim, no redirect followed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / "n8n-workflows").glob("*.json"))
SETTINGS = "Settings: edit me"
CREDENTIAL_TYPES = {"httpHeaderAuth", "salesforceOAuth2Api", "slackApi"}
# Node versions the e2e test drives on n8n 2.8.4.
TESTED_VERSIONS = {"n8n-nodes-base.webhook": 2.1, "n8n-nodes-base.set": 3.4,
                   "n8n-nodes-base.httpRequest": 4.2, "n8n-nodes-base.switch": 3.2,
                   "n8n-nodes-base.if": 2.2,
                   "n8n-nodes-base.slack": 2.3, "n8n-nodes-base.stopAndError": 1,
                   "n8n-nodes-base.noOp": 1, "n8n-nodes-base.stickyNote": 1}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def working_nodes(workflow: dict) -> list[dict]:
    return [n for n in workflow["nodes"] if n["type"] != "n8n-nodes-base.stickyNote"]


def targets(workflow: dict, name: str, output: int | None = None) -> set[str]:
    outputs = workflow["connections"].get(name, {}).get("main", [])
    chosen = outputs if output is None else outputs[output:output + 1]
    return {link["node"] for links in chosen for link in links}


def node_named(workflow: dict, name: str) -> dict:
    return next(n for n in workflow["nodes"] if n["name"] == name)


def release_node(workflow: dict) -> str:
    return next(n["name"] for n in working_nodes(workflow) if "release_path" in n["parameters"].get("url", ""))


def every_path_reaches(workflow: dict, start: str, goal: str, output: int | None = None,
                       _seen: frozenset[str] = frozenset()) -> bool:
    """Whether every path from `start` (from one of its outputs) passes through `goal`; a path
    that comes back to a node it passed (the lookup loop) without it does not."""
    following = targets(workflow, start, output)
    return bool(following) and all(
        name == goal or (name not in _seen and every_path_reaches(workflow, name, goal, _seen=_seen | {start}))
        for name in following)


def test_there_is_a_workflow():
    assert WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
class TestShippedWorkflow:
    def test_is_pretty_printed_inactive_and_has_a_stable_id(self, path):
        workflow = load(path)
        assert path.read_text() == json.dumps(workflow, indent=2, ensure_ascii=False) + "\n"
        assert workflow["active"] is False
        assert re.fullmatch(r"[A-Za-z0-9]{1,36}", workflow["id"])

    def test_credentials_are_references_only(self, path):
        for node in load(path)["nodes"]:
            for kind, reference in node.get("credentials", {}).items():
                assert kind in CREDENTIAL_TYPES
                assert set(reference) == {"id", "name"}, node["name"]

    def test_carries_no_secret_auth_header_or_local_address(self, path):
        text = path.read_text()
        for pattern in (r"Bearer\s+\w", r"\bxox[abpe]-", r"\bwhsec_", r"\bck_\w", r"\"Authorization\"",
                        r"X-API-Key", r"127\.0\.0\.1", r"localhost", r"access_token", r"refresh_token"):
            assert not re.search(pattern, text), pattern

    def test_uses_node_versions_tested_on_the_pinned_n8n(self, path):
        for node in load(path)["nodes"]:
            assert TESTED_VERSIONS.get(node["type"]) == node["typeVersion"], node["name"]

    def test_every_node_is_wired_and_names_are_unique(self, path):
        workflow = load(path)
        names = [n["name"] for n in workflow["nodes"]]
        assert len(names) == len(set(names))
        linked = {t for source in workflow["connections"] for t in targets(workflow, source)}
        assert linked <= set(names) and set(workflow["connections"]) <= set(names)
        webhooks = {n["name"] for n in working_nodes(workflow) if n["type"].endswith(".webhook")}
        assert {n["name"] for n in working_nodes(workflow)} - linked == webhooks

    def test_webhook_keeps_raw_bytes_and_answers_after_the_last_node(self, path):
        [webhook] = [n for n in load(path)["nodes"] if n["type"].endswith(".webhook")]
        assert webhook["parameters"]["options"]["rawBody"] is True
        assert webhook["parameters"]["responseMode"] == "lastNode"  # a failed step → non-2xx

    def test_one_settings_node_holds_the_urls_every_connector_call_uses(self, path):
        workflow = load(path)
        [settings] = [n for n in workflow["nodes"] if n["name"] == SETTINGS]
        names = {a["name"] for a in settings["parameters"]["assignments"]["assignments"]}
        assert {"connector_url", "salesforce_url", "slack_channel"} <= names
        for node in working_nodes(workflow):
            url = node["parameters"].get("url", "")
            if node["type"].endswith(".httpRequest"):
                assert f"$('{SETTINGS}')" in url, node["name"]

    @pytest.mark.parametrize(("switch", "routes"), [
        # None: the fallback output, for any other value.
        ("Route on action", {"update_contact": "Salesforce: find Contact", "notify": "Worth a Slack post?",
                             "skip": "Why skipped?", None: "Why it failed"}),
        ("Why skipped?", {"anonymous": "Skipped: anonymous", "below_quality_threshold": "Skipped: low quality",
                          "failed_quality_gate": "Skipped: failed quality gate", "duplicate": "Skipped: duplicate",
                          None: "Skipped: not mapped"}),
    ])
    def test_every_action_and_skip_reason_leads_to_its_own_branch(self, path, switch, routes):
        # Read from the switch's rules and the outputs they feed, not from the text: a rewired
        # output (two reasons into one node) keeps every value in the file.
        workflow = load(path)
        parameters = node_named(workflow, switch)["parameters"]
        rules = parameters["rules"]["values"]
        led = {}
        for index, rule in enumerate(rules):
            [condition] = rule["conditions"]["conditions"]
            led[condition["rightValue"]] = targets(workflow, switch, output=index)
        if parameters["options"].get("fallbackOutput") == "extra":
            led[None] = targets(workflow, switch, output=len(rules))
        assert led == {value: {target} for value, target in routes.items()}

    def test_an_action_the_workflow_does_not_know_releases_the_claim(self, path):
        workflow = load(path)
        route = node_named(workflow, "Route on action")["parameters"]
        assert route["options"]["fallbackOutput"] == "extra"
        assert every_path_reaches(workflow, "Route on action", release_node(workflow),
                                  output=len(route["rules"]["values"]))

    def test_salesforce_and_slack_failures_release_the_claim_then_fail(self, path):
        workflow = load(path)
        release = release_node(workflow)
        writers = [n for n in working_nodes(workflow)
                   if n["type"].endswith((".salesforce", ".slack")) or "salesforceOAuth2Api"
                   in n.get("credentials", {})]
        assert writers
        for node in writers:
            if node.get("onError") == "continueRegularOutput":  # a notice on the way to the release
                assert every_path_reaches(workflow, node["name"], release), node["name"]
            else:
                assert node.get("onError") == "continueErrorOutput", node["name"]
                # Straight to the release, or through one step that only words the cause.
                [first] = targets(workflow, node["name"], output=1)
                assert first == release or targets(workflow, first) == {release}, node["name"]
        [stop] = targets(workflow, release)
        assert next(n for n in workflow["nodes"] if n["name"] == stop)["type"].endswith("stopAndError")

    def test_no_http_node_follows_a_redirect(self, path):
        # n8n's HTTP Request node follows redirects by default (from version 4). Followed, a 3xx
        # from a misconfigured proxy or a hijacked host would re-send the Koji body, its signature
        # and the API key (or the Salesforce token: version 4.2 sends credentials to another
        # origin too) to the Location, and the chain would take that host's answer as the
        # connector's or Salesforce's.
        workflow = load(path)
        nodes = [n for n in working_nodes(workflow) if n["type"].endswith(".httpRequest")]
        connector = {n["name"] for n in nodes if ".json.connector_url }}" in n["parameters"]["url"]}
        assert connector == {"Connector: verify", "Connector: complete", "Connector: release"}
        for node in nodes:
            assert node["parameters"]["options"]["redirect"] == {"redirect": {"followRedirects": False}}, node["name"]
        # Not followed, a 3xx is an error (verify's takes its error output, to a step that fails),
        # or for the update, which never errors, a status that is not 2xx (the test below).
        [refused] = targets(workflow, "Connector: verify", output=1)
        assert node_named(workflow, refused)["type"].endswith(".stopAndError")

    def test_an_update_salesforce_refused_is_released_never_taken_as_written(self, path):
        # The PATCH answers with its status instead of failing (so a refusal can be told
        # apart from an outage): only a 2xx may go on to Slack and /complete.
        workflow = load(path)
        [patch] = [n for n in working_nodes(workflow) if n["parameters"].get("method") == "PATCH"]
        assert patch["parameters"]["options"]["response"]["response"] == {"fullResponse": True, "neverError": True}
        [check] = targets(workflow, patch["name"], output=0)
        [condition] = node_named(workflow, check)["parameters"]["conditions"]["conditions"]
        assert condition["leftValue"] == "={{ $json.statusCode >= 200 && $json.statusCode < 300 }}"
        assert every_path_reaches(workflow, check, release_node(workflow), output=1)

    def test_a_contact_query_salesforce_refused_is_handled_like_a_refused_update(self, path):
        # Answered with its status too, so a refusal (a field the org lacks, the API limit) is
        # told with Salesforce's error codes, never read as "no Contact" and always released.
        workflow = load(path)
        [query] = [n for n in working_nodes(workflow) if n["parameters"].get("method") == "GET"
                   and "salesforceOAuth2Api" in n.get("credentials", {})]
        assert query["parameters"]["options"]["response"]["response"] == {"fullResponse": True, "neverError": True}
        [check] = targets(workflow, query["name"], output=0)
        assert every_path_reaches(workflow, check, release_node(workflow), output=1)
        assert targets(workflow, check, output=1) == targets(workflow, "Salesforce wrote it?", output=1)

    def test_a_contact_left_as_it_is_is_not_posted_as_updated(self, path):
        workflow = load(path)
        [post] = targets(workflow, "Contact holds a newer interview?", output=0)
        parameters = node_named(workflow, post)["parameters"]
        assert parameters["text"] == "={{ $('Connector: verify').first().json.slack.kept_newer.text }}"
        assert parameters["blocksUi"] == (
            "={{ { blocks: $('Connector: verify').first().json.slack.kept_newer.blocks } }}")

    def test_the_update_sends_the_connectors_fields_whole(self, path):
        workflow = load(path)
        [patch] = [n for n in working_nodes(workflow) if n["parameters"].get("method") == "PATCH"]
        assert patch["parameters"]["jsonBody"].endswith(".salesforce.fields) }}")
        [lookup] = [n for n in working_nodes(workflow) if n["parameters"].get("method") == "GET"
                    and "salesforceOAuth2Api" in n.get("credentials", {})]
        assert lookup["parameters"]["url"].endswith("/services/data/v59.0/query")
        # The n-th run of the query (n8n's $runIndex) takes the n-th of the connector's lookups.
        assert lookup["parameters"]["queryParameters"]["parameters"] == [
            {"name": "q", "value": "={{ $('Connector: verify').first().json.salesforce.lookups[$runIndex].soql }}"}]

    def test_a_lookup_that_finds_no_contact_tries_the_next_before_telling(self, path):
        workflow = load(path)
        [query] = [n["name"] for n in working_nodes(workflow) if n["parameters"].get("method") == "GET"
                   and "salesforceOAuth2Api" in n.get("credentials", {})]
        [again] = targets(workflow, "Contact found?", output=1)
        [condition] = node_named(workflow, again)["parameters"]["conditions"]["conditions"]
        assert condition["leftValue"] == (
            "={{ $runIndex + 1 < $('Connector: verify').first().json.salesforce.lookups.length }}")
        assert targets(workflow, again, output=0) == {query}
        assert targets(workflow, again, output=1) == {"Slack: no Contact found"}

    def test_no_node_with_an_error_branch_also_always_outputs(self, path):
        # n8n sends alwaysOutputData's empty item down the main branch even when the node
        # failed, so a failed query would also run the "no Contact" branch and complete.
        for node in working_nodes(load(path)):
            if node.get("onError") == "continueErrorOutput":
                assert not node.get("alwaysOutputData"), node["name"]
