'use strict';

/**
 * Samples are the flattening of a real answer: ANSWER is what the connector returns for
 * SAMPLE_PAYLOAD (Koji's webhook-setup example with a respondent and an analysis) with the
 * default mapping profile. The tests send SAMPLE_PAYLOAD to the real connector and compare.
 */

const { flatten } = require('./answer');

const INTERVIEW_ID = 'f8e7d6c5-b4a3-2109-8765-432109876543';
const KEY = `${INTERVIEW_ID}:interview.analysis_ready`;
const TRANSCRIPT_URL = 'https://app.koji.so/studies/xyz789/interviews/f8e7d6c5';
const QUOTE = 'Setup took ten minutes and the team used it the same day.';
const TITLE = 'Jane Doe (Acme Corp) · Post-Trial Feedback';
const FACTS = '*Sentiment:* positive   *Quality:* 4.2/5\n*Themes:* onboarding, pricing';
// Koji's score 4.2 goes to a number(1, 0) field: the connector rounds it to 4 and says so.
const CONTEXT = `Interview \`${INTERVIEW_ID}\` · 1 Salesforce warning(s)`;

// The respondent has an e-mail and no Contact id, so the e-mail is the only lookup.
const EMAIL_LOOKUP = {
  strategy: 'email',
  field: 'Email',
  value: 'jane.doe@example.com',
  soql: "SELECT Id, Last_Koji_Interview_At__c FROM Contact WHERE Email = 'jane.doe@example.com' LIMIT 1",
};

// The interview's values, which the connector passes on as Koji sent them (the tests check).
const INTERVIEW_VALUES = {
  study_id: 'xyz789',
  study_title: 'Post-Trial Feedback',
  status: 'completed',
  analysis_status: 'completed',
  quality_score: 4.2,
  completed_at: '2025-01-15T10:22:55Z',
  transcript_url: TRANSCRIPT_URL,
  interaction_mode: 'voice',
};

const SAMPLE_PAYLOAD = {
  event: 'interview.analysis_ready',
  timestamp: '2025-01-15T10:26:15Z',
  project_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
  data: {
    interview_id: INTERVIEW_ID,
    ...INTERVIEW_VALUES,
    respondent: {
      id: 'r_abc123def456',
      display_name: 'Jane Doe',
      email: 'jane.doe@example.com',
      company: 'Acme Corp',
      external_id: 'user_12345',
    },
    themes: ['onboarding', 'pricing'],
    sentiment: 'positive',
    quote: QUOTE,
    summary: 'Happy with onboarding, unsure about pricing tiers.',
  },
};

const slackMessage = (title, body) => ({
  text: `${title}\n${body}`,
  blocks: [
    { type: 'header', text: { type: 'plain_text', text: title, emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: body } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: CONTEXT }] },
    {
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open transcript' }, url: TRANSCRIPT_URL }],
    },
  ],
});

const ANSWER = {
  action: 'update_contact',
  skip_reason: null,
  reason: 'Identified respondent; update the Salesforce Contact.',
  delivery: {
    status: 'first',
    attempt: 1,
    complete_path: `/v1/events/${KEY}/complete`,
    release_path: `/v1/events/${KEY}/release?attempt=1`,
  },
  event: { type: 'interview.analysis_ready', key: KEY, occurred_at: '2025-01-15T10:26:15Z', test: false },
  interview: {
    id: INTERVIEW_ID,
    ...INTERVIEW_VALUES,
    project_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
    stats: {},
    metadata: {},
  },
  respondent: {
    id: 'r_abc123def456',
    email: 'jane.doe@example.com',
    name: 'Jane Doe',
    company: 'Acme Corp',
    external_id: 'user_12345',
    salesforce_contact_id: null,
    attributes: {},
  },
  analysis: {
    themes: ['onboarding', 'pricing'],
    sentiment: 'positive',
    sentiment_scores: {},
    quote: QUOTE,
    summary: 'Happy with onboarding, unsure about pricing tiers.',
    structured_answers: [],
    structured_answers_summary: null,
  },
  study: null,
  report: null,
  salesforce: {
    sobject: 'Contact',
    lookup: EMAIL_LOOKUP,
    lookups: [EMAIL_LOOKUP],
    keep_newer: { field: 'Last_Koji_Interview_At__c', value: '2025-01-15T10:22:55Z' },
    fields: {
      Latest_Customer_Quote__c: QUOTE,
      Interview_Themes__c: 'onboarding, pricing',
      Interview_Sentiment__c: 'positive',
      Interview_Quality_Score__c: 4,
      Transcript_URL__c: TRANSCRIPT_URL,
      Last_Koji_Interview_At__c: '2025-01-15T10:22:55Z',
    },
    skipped: [],
    warnings: [{ field: 'Interview_Quality_Score__c', message: 'rounded half up to 0 decimal place(s)' }],
  },
  slack: {
    post: true,
    ...slackMessage(`:speech_balloon: Salesforce Contact updated: ${TITLE}`, `> ${QUOTE}\n${FACTS}`),
    contact_not_found: slackMessage(`:mag: No Salesforce Contact: ${TITLE}`,
      `No Salesforce Contact matched the lookup by *email*, so nothing was written.\n> ${QUOTE}\n${FACTS}`),
    kept_newer: slackMessage(`:information_source: Not written (the Contact holds a later interview): ${TITLE}`,
      `> ${QUOTE}\n${FACTS}`),
  },
};

const verifySample = flatten(ANSWER);
const mapSample = flatten({ ...ANSWER, delivery: null });

module.exports = { verifySample, mapSample, SAMPLE_PAYLOAD };
