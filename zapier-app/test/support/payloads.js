'use strict';

/**
 * Koji webhook bodies in the documented shapes (shared/seeds: research-automation
 * webhooks and the Salesforce guide's flat fields). Each call gets a fresh interview id,
 * so tests never share a ledger entry.
 */

const crypto = require('node:crypto');

const newId = () => crypto.randomUUID();

// The quote holds Zapier template syntax on purpose: it must reach the connector as is.
const BRACES_QUOTE = 'Setup took {{ten}} minutes — {{bundle.authData.api_key}} stays text, café ✓';

const interviewEvent = ({
  id = newId(),
  type = 'interview.analysis_ready',
  email = "o'brien@example.com",
  quality = 4,
  quote = BRACES_QUOTE,
} = {}) => ({
  type,
  timestamp: '2026-04-16T10:23:00Z',
  data: {
    interview_id: id,
    study_id: 'xyz789',
    study_title: 'Post-Trial Feedback',
    participant: { name: 'Sarah', company: 'Acme Corp', email, plan: 'enterprise' },
    quality_score: quality,
    interaction_mode: 'voice',
    completed_at: '2026-04-16T10:22:55Z',
    transcript_url: `https://app.koji.so/studies/xyz789/interviews/${id}`,
    themes: ['onboarding', 'pricing'],
    sentiment: 'positive',
    quote,
  },
});

// Koji's report.generated (research-automation webhooks): a `notify` event, keyed by report id.
const reportEvent = ({ id = newId() } = {}) => ({
  type: 'report.generated',
  timestamp: '2026-04-20T09:30:00Z',
  data: {
    report_id: id,
    study_id: 'xyz789',
    study_title: 'Post-Trial Feedback',
    report_url: `https://app.koji.so/studies/xyz789/reports/${id}`,
    summary: 'Onboarding friction is the top theme across 24 interviews.',
    metrics: { interviews: 24, average_quality: 4.1 },
  },
});

// Pretty-printed with a trailing newline, as a sender might: the bytes, not the JSON, are signed.
const rawBody = (payload) => `${JSON.stringify(payload, null, 2)}\n`;

module.exports = { newId, interviewEvent, reportEvent, rawBody, BRACES_QUOTE };
