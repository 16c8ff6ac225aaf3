'use strict';

/**
 * Samples are the flattening of a documented answer (docs/design.md), so they always
 * carry every output column. The tests check the real connector's answer has the same keys.
 */

const { flatten } = require('./answer');

const KEY = 'f8e7d6c5-b4a3-2109-8765-432109876543:interview.analysis_ready';

const ANSWER = {
  action: 'update_contact',
  skip_reason: null,
  reason: 'Identified respondent; update the Salesforce Contact.',
  delivery: {
    status: 'first',
    attempt: 1,
    complete_path: `/v1/events/${KEY}/complete`,
    release_path: `/v1/events/${KEY}/release`,
  },
  event: { type: 'interview.analysis_ready', key: KEY, occurred_at: '2025-01-15T10:26:15Z', test: false },
  interview: {
    id: 'f8e7d6c5-b4a3-2109-8765-432109876543',
    study_id: 'xyz789',
    study_title: 'Post-Trial Feedback',
    project_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
    status: 'completed',
    analysis_status: 'completed',
    quality_score: 4.2,
    completed_at: '2025-01-15T10:22:55Z',
    transcript_url: 'https://app.koji.so/studies/xyz789/interviews/f8e7d6c5',
    interaction_mode: 'voice',
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
    quote: 'Setup took ten minutes and the team used it the same day.',
    summary: 'Happy with onboarding, unsure about pricing tiers.',
    structured_answers: [],
    structured_answers_summary: null,
  },
  salesforce: {
    sobject: 'Contact',
    lookup: {
      strategy: 'email',
      field: 'Email',
      value: 'jane.doe@example.com',
      soql: "SELECT Id FROM Contact WHERE Email = 'jane.doe@example.com' LIMIT 1",
    },
    fields: {
      Latest_Customer_Quote__c: 'Setup took ten minutes and the team used it the same day.',
      Interview_Themes__c: 'onboarding, pricing',
      Interview_Sentiment__c: 'positive',
      Interview_Quality_Score__c: 4.2,
      Transcript_URL__c: 'https://app.koji.so/studies/xyz789/interviews/f8e7d6c5',
      Last_Koji_Interview_At__c: '2025-01-15T10:22:55Z',
    },
    skipped: [],
    warnings: [],
  },
  slack: {
    post: true,
    text: ':speech_balloon: Salesforce Contact updated: Jane Doe (Acme Corp) · Post-Trial Feedback\n' +
      '> Setup took ten minutes and the team used it the same day.\n*Sentiment:* positive   *Quality:* 4.2/5',
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '> Setup took ten minutes and the team used it the same day.' } }],
    contact_not_found: {
      text: ':mag: No Salesforce Contact: Jane Doe (Acme Corp) · Post-Trial Feedback',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'No Salesforce Contact matched the lookup by *email*.' } }],
    },
  },
};

const verifySample = flatten(ANSWER);
const mapSample = flatten({ ...ANSWER, delivery: null });

module.exports = { verifySample, mapSample };
