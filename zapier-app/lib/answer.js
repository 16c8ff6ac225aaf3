'use strict';

/**
 * The connector's answer (docs/design.md, "The answer of verify / map") as one flat
 * object, because Zapier users map fields by label and Paths rules compare text.
 *
 * Salesforce values are flattened generically as `sf__<ApiName>`: a mapping profile may
 * add fields, so no list here is exhaustive. DEFAULT_SALESFORCE_FIELDS only labels the
 * default profile's six fields before the connector is asked for the active profile.
 */

const DEFAULT_SALESFORCE_FIELDS = [
  'Latest_Customer_Quote__c',
  'Interview_Themes__c',
  'Interview_Sentiment__c',
  'Interview_Quality_Score__c',
  'Transcript_URL__c',
  'Last_Koji_Interview_At__c',
];

const SF_PREFIX = 'sf__';

const flag = (value) => (value ? 'true' : 'false');

// Zapier shows scalars as they are; lists read best comma-joined, objects as JSON.
const scalar = (value) => {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) {
    return value.every((v) => v === null || typeof v !== 'object')
      ? value.join(', ')
      : JSON.stringify(value);
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
};

const json = (value) => (value === null || value === undefined ? null : JSON.stringify(value));

// "Field: why" per item; a warning about the payload rather than a field has no field.
const describeList = (items, text) =>
  (items || []).map((item) => (item.field ? `${item.field}: ${item[text]}` : item[text])).join('; ');

// [key, label, type, value-from-answer]; one table drives the output and its fields.
const COLUMNS = [
  ['action', 'Action (update_contact, notify or skip)', 'string', (a) => a.action],
  ['skip_reason', 'Skip Reason', 'string', (a) => a.skip_reason],
  ['reason', 'Reason', 'string', (a) => a.reason],
  ['should_update', 'Should Update Salesforce ("true"/"false")', 'string',
    (a) => flag(a.action === 'update_contact')],
  // The connector's slack.post: true for update_contact, notify and the skips worth telling
  // (below_quality_threshold, failed_quality_gate), which stay claimed until the Zap has
  // posted and marked them completed; false for the skips whose claim it ended itself
  // (anonymous, not_mapped) and for duplicates.
  ['should_notify', 'Should Post to Slack ("true"/"false")', 'string',
    (a) => flag(a.slack && a.slack.post)],
  ['delivery_status', 'Delivery Status (first, retry or duplicate)', 'string', (a) => a.delivery && a.delivery.status],
  ['delivery_attempt', 'Delivery Attempt', 'integer', (a) => a.delivery && a.delivery.attempt],
  ['complete_path', 'Complete Path', 'string', (a) => a.delivery && a.delivery.complete_path],
  ['release_path', 'Release Path', 'string', (a) => a.delivery && a.delivery.release_path],
  ['event_key', 'Event Key', 'string', (a) => a.event && a.event.key],
  ['event_type', 'Event Type', 'string', (a) => a.event && a.event.type],
  ['event_occurred_at', 'Event Occurred At', 'datetime', (a) => a.event && a.event.occurred_at],
  ['event_test', 'Is Test Event ("true"/"false")', 'string', (a) => flag(a.event && a.event.test)],
  ['interview_id', 'Interview ID', 'string', (a) => a.interview && a.interview.id],
  ['study_id', 'Study ID', 'string', (a) => a.interview && a.interview.study_id],
  ['study_title', 'Study Title', 'string', (a) => a.interview && a.interview.study_title],
  ['project_id', 'Project ID', 'string', (a) => a.interview && a.interview.project_id],
  ['interview_status', 'Interview Status', 'string', (a) => a.interview && a.interview.status],
  ['analysis_status', 'Analysis Status', 'string', (a) => a.interview && a.interview.analysis_status],
  ['quality_score', 'Quality Score', 'number', (a) => a.interview && a.interview.quality_score],
  ['completed_at', 'Completed At', 'datetime', (a) => a.interview && a.interview.completed_at],
  ['transcript_url', 'Transcript URL', 'string', (a) => a.interview && a.interview.transcript_url],
  ['interaction_mode', 'Interaction Mode', 'string', (a) => a.interview && a.interview.interaction_mode],
  ['respondent_id', 'Respondent ID', 'string', (a) => a.respondent && a.respondent.id],
  ['respondent_email', 'Respondent Email', 'string', (a) => a.respondent && a.respondent.email],
  ['respondent_name', 'Respondent Name', 'string', (a) => a.respondent && a.respondent.name],
  ['respondent_company', 'Respondent Company', 'string', (a) => a.respondent && a.respondent.company],
  ['respondent_external_id', 'Respondent External ID', 'string', (a) => a.respondent && a.respondent.external_id],
  ['respondent_salesforce_contact_id', 'Respondent Salesforce Contact ID', 'string',
    (a) => a.respondent && a.respondent.salesforce_contact_id],
  ['themes', 'Themes', 'string', (a) => a.analysis && scalar(a.analysis.themes)],
  ['sentiment', 'Sentiment', 'string', (a) => a.analysis && a.analysis.sentiment],
  ['quote', 'Quote', 'string', (a) => a.analysis && a.analysis.quote],
  ['summary', 'Summary', 'string', (a) => a.analysis && a.analysis.summary],
  ['salesforce_sobject', 'Salesforce Object', 'string', (a) => a.salesforce && a.salesforce.sobject],
  ['lookup_strategy', 'Salesforce Lookup Strategy', 'string', (a) => lookupOf(a).strategy],
  ['lookup_field', 'Salesforce Lookup Field', 'string', (a) => lookupOf(a).field],
  ['lookup_value', 'Salesforce Lookup Value', 'string', (a) => lookupOf(a).value],
  ['lookup_soql', 'Salesforce Lookup SOQL', 'string', (a) => lookupOf(a).soql],
  // The next lookup, for a second Find step when the first finds no one: a Contact id from an
  // old personalized link may name a Contact since merged or deleted; the e-mail still finds them.
  ['fallback_lookup_strategy', 'Salesforce Fallback Lookup Strategy', 'string', (a) => fallbackOf(a).strategy],
  ['fallback_lookup_field', 'Salesforce Fallback Lookup Field', 'string', (a) => fallbackOf(a).field],
  ['fallback_lookup_value', 'Salesforce Fallback Lookup Value', 'string', (a) => fallbackOf(a).value],
  ['fallback_lookup_soql', 'Salesforce Fallback Lookup SOQL', 'string', (a) => fallbackOf(a).soql],
  // For the Paths after the Find step (README, Zap 1 Path A: *Write* / *Keep the newer*, not a
  // Filter, which would stop the Slack post and Mark Event Completed too): write only when the
  // Contact's value of this field is not later than this one (an older interview's retry must
  // not overwrite a newer one).
  ['keep_newer_field', 'Salesforce Keep-Newer Field', 'string', (a) => keepNewerOf(a).field],
  ['keep_newer_value', 'Salesforce Keep-Newer Value (UTC)', 'string', (a) => keepNewerOf(a).value],
  ['salesforce_field_names', 'Salesforce Field Names', 'string',
    (a) => Object.keys(fieldsOf(a)).join(', ')],
  ['salesforce_fields_json', 'Salesforce Fields (JSON)', 'string', (a) => json(fieldsOf(a))],
  ['salesforce_skipped', 'Salesforce Skipped Fields', 'string',
    (a) => describeList(a.salesforce && a.salesforce.skipped, 'reason')],
  ['salesforce_warnings', 'Salesforce Warnings', 'string',
    (a) => describeList(a.salesforce && a.salesforce.warnings, 'message')],
  ['slack_text', 'Slack Text', 'string', (a) => a.slack && a.slack.text],
  ['slack_blocks_json', 'Slack Blocks (JSON)', 'string', (a) => a.slack && json(a.slack.blocks)],
  ['slack_contact_not_found_text', 'Slack Text When No Contact Found', 'string',
    (a) => a.slack && a.slack.contact_not_found && a.slack.contact_not_found.text],
  ['slack_contact_not_found_blocks_json', 'Slack Blocks When No Contact Found (JSON)', 'string',
    (a) => a.slack && a.slack.contact_not_found && json(a.slack.contact_not_found.blocks)],
  // The connector's slack.kept_newer: for the branch that finds a Contact holding a later
  // interview and writes nothing ("Not written (the Contact holds a later interview)"); Slack
  // Text says "Salesforce Contact updated". Empty when there is no such branch (not
  // update_contact, or no keep_newer field).
  ['slack_kept_newer_text', 'Slack Text When Contact Holds a Later Interview', 'string',
    (a) => a.slack && a.slack.kept_newer && a.slack.kept_newer.text],
  ['slack_kept_newer_blocks_json', 'Slack Blocks When Contact Holds a Later Interview (JSON)', 'string',
    (a) => a.slack && a.slack.kept_newer && json(a.slack.kept_newer.blocks)],
];

function lookupOf(answer) {
  return (answer.salesforce && answer.salesforce.lookup) || {};
}

function fallbackOf(answer) {
  const lookups = (answer.salesforce && answer.salesforce.lookups) || [];
  return lookups[1] || {};
}

function keepNewerOf(answer) {
  return (answer.salesforce && answer.salesforce.keep_newer) || {};
}

function fieldsOf(answer) {
  return (answer.salesforce && answer.salesforce.fields) || {};
}

const flatten = (answer) => {
  const flat = { id: (answer.event && answer.event.key) || null };
  for (const [key, , , pick] of COLUMNS) {
    const value = pick(answer);
    flat[key] = value === undefined ? null : value;
  }
  for (const [name, value] of Object.entries(fieldsOf(answer))) {
    flat[SF_PREFIX + name] = scalar(value);
  }
  return flat;
};

const salesforceFieldOutput = (name, label) => ({
  key: SF_PREFIX + name,
  label: label && label !== name ? `Salesforce: ${label} (${name})` : `Salesforce: ${name}`,
});

const OUTPUT_FIELDS = [
  { key: 'id', label: 'ID (event key)', type: 'string' },
  ...COLUMNS.map(([key, label, type]) => ({ key, label, type })),
  ...DEFAULT_SALESFORCE_FIELDS.map((name) => salesforceFieldOutput(name)),
];

// Output fields from GET /v1/salesforce/fields: `{"fields": [{"name", "label", …}]}`.
const salesforceOutputFieldsOf = (body) =>
  ((body && body.fields) || [])
    .filter((field) => field && field.name)
    .map((field) => salesforceFieldOutput(field.name, field.label));

module.exports = {
  DEFAULT_SALESFORCE_FIELDS,
  SF_PREFIX,
  OUTPUT_FIELDS,
  flatten,
  salesforceOutputFieldsOf,
  salesforceFieldOutput,
};
