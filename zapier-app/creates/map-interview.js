'use strict';

const { postJson } = require('../lib/connector');
const { flatten } = require('../lib/answer');
const { ANSWER, dataOf } = require('../lib/shapes');
const { answerOutputFields } = require('../lib/output-fields');
const { mapSample } = require('../lib/sample');

const present = (value) => value !== undefined && value !== null && value !== '';

const compact = (object) =>
  Object.fromEntries(Object.entries(object).filter(([, value]) => present(value)));

// A `list: true` field reaches perform as an array even when the one mapped item is
// "a, b", so every item is split on commas, as the help text promises.
const listOf = (value) => {
  if (!present(value)) return undefined;
  const items = (Array.isArray(value) ? value : [value]).filter(present);
  const themes = items.flatMap((item) => String(item).split(',')).map((t) => t.trim()).filter(Boolean);
  return themes.length ? themes : undefined;
};

// Number("2 of 5") is NaN, which JSON.stringify sends as null, and the connector takes a
// missing score as passing; Number(" ") is 0. So blank is "not given" and anything else
// that is not a finite number is refused, naming the field. Like the connector's own
// refusals, the error names the field and the problem, never the value: a mis-mapped field
// may hold the respondent's e-mail or words, and step errors are kept in Zap history and
// e-mailed to the Zap's owner.
const numberOf = (z, input, key) => {
  const given = present(input[key]) ? String(input[key]).trim() : '';
  if (given === '') return undefined;
  const number = Number(given);
  if (!Number.isFinite(number)) {
    throw new z.errors.Error(
      `"${labelOf(key)}" must be a number; the mapped value (${given.length} characters) is not one. ` +
        'Map a numeric value (e.g. `4.2`) or leave it empty.',
      'invalid_number_input',
      400,
    );
  }
  return number;
};

// Where JSON.parse stopped, without its message: V8 quotes the text around that place
// ("Unexpected token 'j', "jane.doe@e"... is not valid JSON").
const positionOf = (err, text) => {
  const at = /position (\d+)/.exec(String(err && err.message));
  if (at) return `at character ${Number(at[1]) + 1} of ${text.length}`;
  return /end of JSON input|Unterminated/.test(String(err && err.message))
    ? `it ends early (${text.length} characters)`
    : `${text.length} characters`;
};

// The fields of Koji's Zapier trigger, as a documented Koji webhook payload (the
// research-automation shape with the Salesforce guide's flat respondent_email and analysis).
const eventFromFields = (z, input) => ({
  ...compact({
    type: input.event_type || 'interview.analysis_ready',
    timestamp: input.occurred_at,
    project_id: input.project_id,
  }),
  data: compact({
    interview_id: input.interview_id,
    study_id: input.study_id,
    study_title: input.study_title,
    status: input.interview_status,
    quality_score: numberOf(z, input, 'quality_score'),
    completed_at: input.completed_at,
    transcript_url: input.transcript_url,
    interaction_mode: input.interaction_mode,
    respondent_email: input.respondent_email,
    participant: compact({
      name: input.respondent_name,
      company: input.respondent_company,
      external_id: input.respondent_external_id,
      salesforce_contact_id: input.salesforce_contact_id,
    }),
    themes: listOf(input.themes),
    sentiment: input.sentiment,
    quote: input.quote,
    summary: input.summary,
  }),
});

const payloadOf = (z, input) => {
  if (!present(input.payload_json)) return eventFromFields(z, input);
  const text = String(input.payload_json);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new z.errors.Error(
      `"${labelOf('payload_json')}" is not valid JSON (${positionOf(err, text)}). Map the whole payload, or ` +
        'leave it empty and fill the individual fields instead.',
      'malformed_json_input',
      400,
    );
  }
};

const perform = async (z, bundle) => {
  const response = await postJson(z, bundle, '/v1/salesforce/map', payloadOf(z, bundle.inputData));
  return flatten(dataOf(z, response, ANSWER));
};

const text = (key, label, helpText, extra = {}) => ({ key, label, helpText, type: 'string', ...extra });

const INPUT_FIELDS = [
  text('payload_json', 'Koji Payload (JSON)',
    'Optional. The whole Koji payload or interview (`GET /api/v1/interviews/:id`) as JSON. ' +
      'When set, the fields below are ignored.', { type: 'text' }),
  text('event_type', 'Event Type', 'The Koji event; most Zaps use `interview.analysis_ready`.', {
    choices: ['interview.analysis_ready', 'interview.completed', 'interview.quality_scored'],
    default: 'interview.analysis_ready',
  }),
  text('interview_id', 'Interview ID', 'Koji\'s interview id (also the event key).'),
  text('respondent_email', 'Respondent Email',
    'Used to find the Contact. Leave empty for anonymous interviews: the output then says skip.'),
  text('respondent_name', 'Respondent Name', 'Shown in the Slack message.'),
  text('respondent_company', 'Respondent Company', 'Shown in the Slack message.'),
  text('respondent_external_id', 'Respondent External ID',
    'Your own id for the respondent, if the mapping profile looks Contacts up by it.'),
  text('salesforce_contact_id', 'Salesforce Contact ID', 'If known, the Contact is updated by id.'),
  text('quality_score', 'Quality Score',
    'Koji\'s 1–5 score; below the connector\'s threshold (default 3) the output says skip.',
    { type: 'number' }),
  text('sentiment', 'Sentiment', '`positive`, `neutral` or `negative`.'),
  text('themes', 'Themes', 'Themes of the interview; a list or one comma-separated text.', { list: true }),
  text('quote', 'Quote', 'The most representative quote.', { type: 'text' }),
  text('summary', 'Summary', 'Summary of the interview.', { type: 'text' }),
  text('study_id', 'Study ID', 'Koji study id.'),
  text('study_title', 'Study Title', 'Koji study title, shown in Slack.'),
  text('project_id', 'Project ID', 'Koji project id.'),
  text('interview_status', 'Interview Status', 'e.g. `completed`.'),
  text('transcript_url', 'Transcript URL', 'Link to the transcript in Koji.'),
  text('interaction_mode', 'Interaction Mode', '`voice` or `text`.'),
  text('completed_at', 'Completed At', 'When the interview ended (ISO 8601).', { type: 'datetime' }),
  text('occurred_at', 'Event Time', 'When Koji emitted the event (ISO 8601).', { type: 'datetime' }),
];

// The label the user sees, for errors that name a field.
const labelOf = (key) => INPUT_FIELDS.find((field) => field.key === key).label;

module.exports = {
  key: 'map_interview',
  noun: 'Salesforce Field Values',
  display: {
    label: 'Map Interview to Salesforce Fields',
    description:
      'Turns an interview from Koji\'s own Zapier trigger (unsigned, e.g. on the Insights ' +
      'plan) into the Contact lookup and field values for Salesforce "Find Record" and "Update Record".',
  },
  operation: {
    perform,
    inputFields: INPUT_FIELDS,
    sample: mapSample,
    outputFields: answerOutputFields,
  },
};
