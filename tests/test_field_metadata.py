import json
from xml.etree import ElementTree as ET

import pytest

from connector.field_metadata import next_steps, write_field_metadata
from connector.profile_file import load_profile
from tests.mapping_cases import DEFAULT, EXAMPLES
from tests.live import REPO

NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
FIELDS_DIR = ("force-app", "main", "default", "objects", "Contact", "fields")


def parsed(tmp_path, profile) -> dict[str, ET.Element]:
    paths = write_field_metadata(profile, tmp_path)
    assert all(path.parent == tmp_path.joinpath(*FIELDS_DIR) for path in paths)
    documents = {path.name.removesuffix(".field-meta.xml"): ET.parse(path).getroot() for path in paths}
    for name, root in documents.items():
        assert root.tag == "{%s}CustomField" % NS["md"] and root.findtext("md:fullName", namespaces=NS) == name
    return documents


def text(root: ET.Element, path: str) -> str | None:
    return root.findtext(path, namespaces=NS)


def test_default_profile_metadata(tmp_path):
    docs = parsed(tmp_path, DEFAULT)
    assert set(docs) == {"Latest_Customer_Quote__c", "Interview_Themes__c", "Interview_Sentiment__c",
                         "Interview_Quality_Score__c", "Transcript_URL__c", "Last_Koji_Interview_At__c"}
    quote = docs["Latest_Customer_Quote__c"]
    assert (text(quote, "md:type"), text(quote, "md:length"), text(quote, "md:visibleLines")) == (
        "LongTextArea", "4000", "5")
    assert (text(docs["Interview_Themes__c"], "md:type"), text(docs["Interview_Themes__c"], "md:length")) == (
        "Text", "255")
    sentiment = docs["Interview_Sentiment__c"]
    assert text(sentiment, "md:type") == "Picklist" and text(sentiment, "md:valueSet/md:restricted") == "true"
    assert [v.findtext("md:fullName", namespaces=NS) for v in
            sentiment.findall("md:valueSet/md:valueSetDefinition/md:value", NS)] == ["positive", "neutral", "negative"]
    score = docs["Interview_Quality_Score__c"]
    assert (text(score, "md:type"), text(score, "md:precision"), text(score, "md:scale")) == ("Number", "1", "0")
    assert text(docs["Transcript_URL__c"], "md:type") == "Url"
    assert text(docs["Last_Koji_Interview_At__c"], "md:type") == "DateTime"
    assert text(quote, "md:label") == "Latest Customer Quote"


def test_structured_answer_and_score_types(tmp_path):
    docs = parsed(tmp_path / "a", load_profile(EXAMPLES / "structured-answers.yaml"))
    assert text(docs["Koji_Would_Expand__c"], "md:type") == "Checkbox"
    assert text(docs["Koji_Would_Expand__c"], "md:defaultValue") == "false"
    features = docs["Koji_Features_Used__c"]
    assert (text(features, "md:type"), text(features, "md:visibleLines")) == ("MultiselectPicklist", "4")
    assert len(features.findall("md:valueSet/md:valueSetDefinition/md:value", NS)) == 4
    scores = parsed(tmp_path / "b", load_profile(EXAMPLES / "survey-scores.yaml"))
    assert text(scores["NPS_Score__c"], "md:precision") == "2"
    assert text(scores["Last_Survey_Date__c"], "md:type") == "Date"


def test_external_id_field_is_written_as_an_external_id(tmp_path):
    docs = parsed(tmp_path, load_profile(EXAMPLES / "external-id-lookup.yaml"))
    assert text(docs["Koji_External_Id__c"], "md:externalId") == "true"
    assert text(docs["Koji_External_Id__c"], "md:type") == "Text"


def test_an_existing_sfdx_project_file_is_kept(tmp_path):
    (tmp_path / "sfdx-project.json").write_text("{}")
    write_field_metadata(DEFAULT, tmp_path)
    assert (tmp_path / "sfdx-project.json").read_text() == "{}"


def test_standard_fields_get_no_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nactions: {interview.completed: update_contact}\n"
                    "fields:\n  - {name: Title, type: text, length: 128, source: respondent.company}\n")
    assert write_field_metadata(load_profile(path), tmp_path / "out") == []


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_output_is_deterministic(tmp_path, name):
    profile = load_profile(EXAMPLES / f"{name}.yaml")
    first = {p.name: p.read_bytes() for p in write_field_metadata(profile, tmp_path / "1")}
    second = {p.name: p.read_bytes() for p in write_field_metadata(profile, tmp_path / "2")}
    assert first == second
    assert all(data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n') for data in first.values())


def test_a_short_textarea_is_written_as_a_text_area_not_a_long_one(tmp_path):
    # A Long Text Area holds 256 to 131,072 characters; length 50 was written as one and
    # Salesforce would refuse the deploy.
    profile = tmp_path / "p.yaml"
    profile.write_text("version: 1\nactions: {interview.completed: update_contact}\nfields:\n  - {name: Short__c, type: textarea, length: 50, source: analysis.quote}\n"
                       "  - {name: Long__c, type: textarea, length: 256, source: analysis.summary}\n")
    documents = parsed(tmp_path / "out", load_profile(profile))
    assert text(documents["Short__c"], "md:type") == "TextArea" and text(documents["Short__c"], "md:length") is None
    assert text(documents["Long__c"], "md:type") == "LongTextArea" and text(documents["Long__c"], "md:length") == "256"


def profile_of(tmp_path, body: str):
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nactions: {interview.completed: update_contact}\n" + body)
    return load_profile(path)


def test_a_field_of_another_namespace_gets_no_file(tmp_path):
    # It belongs to a managed package: a deploy of ns__… from this org is refused.
    profile = profile_of(tmp_path, "fields:\n  - {name: ns__Koji_Score__c, type: number, precision: 2, "
                                   "source: interview.quality_score}\n  - {name: Own__c, type: text, source: analysis.quote}\n")
    assert set(parsed(tmp_path / "out", profile)) == {"Own__c"}


def test_a_default_label_leaves_out_the_namespace_and_suffix(tmp_path):
    from connector.field_metadata import _label_of
    assert _label_of("ns__Koji_Quote__c") == "Koji Quote" and _label_of("Koji_Quote__c") == "Koji Quote"


def test_an_external_id_field_the_profile_also_writes_is_one_file_marked_external(tmp_path):
    # Before: written as a plain field (externalId false), and with other capitals a second file.
    for named in ("Koji_Ext_Id__c", "koji_ext_id__c"):
        profile = profile_of(tmp_path, f"lookup: {{order: [external_id, email], external_id_field: {named}}}\n"
                                       "fields:\n  - {name: Koji_Ext_Id__c, type: text, length: 100, "
                                       "source: respondent.external_id}\n")
        docs = parsed(tmp_path / named, profile)
        assert set(docs) == {"Koji_Ext_Id__c"}
        assert (text(docs["Koji_Ext_Id__c"], "md:externalId"), text(docs["Koji_Ext_Id__c"], "md:length")) == (
            "true", "100")


def test_a_custom_email_lookup_field_is_written_as_an_email_field(tmp_path):
    # check-fields asks for it; field-metadata wrote nothing for it.
    profile = profile_of(tmp_path, "lookup: {order: [email], email_field: Koji_Email__c}\n")
    docs = parsed(tmp_path / "out", profile)
    assert set(docs) == {"Koji_Email__c"} and text(docs["Koji_Email__c"], "md:type") == "Email"


# What `sf project deploy start` sends to the Metadata API: each document whole, as
# `sf project retrieve` writes CustomField (elements sorted, four-space indent, UTF-8).
CUSTOM_FIELD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n{}</CustomField>\n')
EXPECTED_DOCUMENTS = {
    "Themes__c": """    <externalId>false</externalId>
    <fullName>Themes__c</fullName>
    <label>Thèmes heard</label>
    <length>100</length>
    <required>false</required>
    <type>Text</type>
    <unique>false</unique>
""",
    "Mood__c": """    <externalId>false</externalId>
    <fullName>Mood__c</fullName>
    <label>Mood</label>
    <required>false</required>
    <type>Picklist</type>
    <valueSet>
        <restricted>true</restricted>
        <valueSetDefinition>
            <sorted>false</sorted>
            <value>
                <fullName>good</fullName>
                <default>false</default>
                <label>good</label>
            </value>
            <value>
                <fullName>bad</fullName>
                <default>false</default>
                <label>bad</label>
            </value>
        </valueSetDefinition>
    </valueSet>
""",
    "Score__c": """    <externalId>false</externalId>
    <fullName>Score__c</fullName>
    <label>Score</label>
    <precision>3</precision>
    <required>false</required>
    <scale>1</scale>
    <type>Number</type>
    <unique>false</unique>
""",
    "Note__c": """    <externalId>false</externalId>
    <fullName>Note__c</fullName>
    <label>Note</label>
    <required>false</required>
    <type>TextArea</type>
""",
    "Seen__c": """    <externalId>false</externalId>
    <fullName>Seen__c</fullName>
    <label>Seen</label>
    <required>false</required>
    <type>Date</type>
""",
    "Used__c": """    <externalId>false</externalId>
    <fullName>Used__c</fullName>
    <label>Used</label>
    <required>false</required>
    <type>MultiselectPicklist</type>
    <valueSet>
        <restricted>true</restricted>
        <valueSetDefinition>
            <sorted>false</sorted>
            <value>
                <fullName>a</fullName>
                <default>false</default>
                <label>a</label>
            </value>
        </valueSetDefinition>
    </valueSet>
    <visibleLines>6</visibleLines>
""",
    "Quote__c": """    <externalId>false</externalId>
    <fullName>Quote__c</fullName>
    <label>Quote</label>
    <length>4000</length>
    <type>LongTextArea</type>
    <visibleLines>10</visibleLines>
""",
    # Looked up by, not written: created as an External ID text field of Salesforce's 255.
    "Koji_Ext__c": """    <externalId>true</externalId>
    <fullName>Koji_Ext__c</fullName>
    <label>Koji Ext</label>
    <length>255</length>
    <required>false</required>
    <type>Text</type>
    <unique>false</unique>
""",
}


def test_each_document_is_the_custom_field_salesforce_takes(tmp_path):
    profile = profile_of(tmp_path, "lookup: {order: [external_id], external_id_field: Koji_Ext__c}\nfields:\n"
                         "  - {name: Themes__c, label: Thèmes heard, type: text, length: 100, "
                         "source: analysis.themes}\n"
                         "  - {name: Mood__c, type: picklist, values: [good, bad], source: analysis.sentiment}\n"
                         "  - {name: Score__c, type: number, precision: 3, scale: 1, source: interview.quality_score}\n"
                         "  - {name: Note__c, type: textarea, length: 200, source: analysis.summary}\n"
                         "  - {name: Seen__c, type: date, source: interview.completed_at}\n"
                         "  - {name: Used__c, type: multipicklist, values: [a], visible_lines: 6, "
                         "source: analysis.themes}\n"
                         "  - {name: Quote__c, type: textarea, length: 4000, visible_lines: 10, "
                         "source: analysis.quote}\n")
    written = {path.name.removesuffix(".field-meta.xml"): path.read_bytes()
               for path in write_field_metadata(profile, tmp_path / "out")}
    assert written == {name: CUSTOM_FIELD.format(body).encode() for name, body in EXPECTED_DOCUMENTS.items()}


def test_the_project_file_names_force_app_and_the_api_version(tmp_path):
    write_field_metadata(DEFAULT, tmp_path / "a", "v60.0")
    write_field_metadata(DEFAULT, tmp_path / "b")
    assert json.loads((tmp_path / "a" / "sfdx-project.json").read_text(encoding="utf-8")) == {
        "name": "koji-connector-fields", "namespace": "", "sourceApiVersion": "60.0",
        "packageDirectories": [{"path": "force-app", "default": True}]}
    assert json.loads((tmp_path / "b" / "sfdx-project.json").read_text())["sourceApiVersion"] == "59.0"


def test_writing_again_into_the_same_folder_replaces_the_files(tmp_path):
    # After a profile change the admin runs it again into the project deployed before.
    first = write_field_metadata(DEFAULT, tmp_path)
    first[0].write_text("edited by hand")
    assert write_field_metadata(DEFAULT, tmp_path) == first
    assert first[0].read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')


def test_a_profile_with_nothing_to_create_writes_no_empty_tree_and_says_nothing_is_to_deploy(tmp_path):
    # Found by an audit: an empty force-app tree and "0 field(s) written. Deploy with: …", a
    # deploy that `sf` refuses ("No source-backed components present").
    profile = load_profile(EXAMPLES / "slack-templates.yaml")
    assert write_field_metadata(profile, tmp_path / "out") == []
    assert not (tmp_path / "out").exists()
    said = next_steps([], tmp_path / "out")
    assert said.startswith("Nothing to deploy") and "sf project deploy" not in said


def test_the_next_steps_after_writing_are_the_ones_the_mapping_guide_gives(tmp_path):
    # Deployed fields the integration user may not edit are fields it cannot write: the guide
    # says to grant edit access with a permission set, then run check-fields; so must the command.
    guide = REPO.joinpath("docs", "mapping.md").read_text()
    after_deploying = guide[guide.index("After deploying"):][:200]
    assert "permission set" in after_deploying and "check-fields" in after_deploying
    written = write_field_metadata(DEFAULT, tmp_path / "my fields")
    said = next_steps(written, tmp_path / "my fields")
    deploy, grant, check = said.splitlines()[1], said.splitlines()[2], said.splitlines()[-1]
    assert said.startswith(f"{len(written)} field(s) written.")
    assert deploy.endswith(f"cd '{tmp_path / 'my fields'}' && sf project deploy start --source-dir force-app "
                           "--target-org <alias>")
    assert "edit access" in grant and "permission set" in grant
    assert "connector salesforce check-fields" in check
    assert said.index("deploy them") < said.index("permission set") < said.index("check-fields")
