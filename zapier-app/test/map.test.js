'use strict';

/** "Map Interview to Salesforce Fields" (unsigned, Koji's Zapier trigger) against the real connector. */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, authData } = require('./support/connector');
const { withServerAnswering } = require('./support/fake-server');
const { newId, interviewEvent, BRACES_QUOTE } = require('./support/payloads');
const { SF_PREFIX } = require('../lib/answer');
const { SAMPLE_PAYLOAD } = require('../lib/sample');

const appTester = zapier.createAppTester(App);
const map = App.creates.map_interview.operation.perform;

const connector = useConnector();

const run = (inputData) => appTester(map, { authData: authData(connector), inputData });

// What a user maps from Koji's Zapier trigger, field by field.
const triggerFields = (overrides = {}) => ({
  event_type: 'interview.analysis_ready',
  interview_id: newId(),
  respondent_email: 'sarah@example.com',
  respondent_name: 'Sarah',
  respondent_company: 'Acme Corp',
  quality_score: '4',
  sentiment: 'negative',
  themes: ['integration friction', 'pricing'],
  quote: BRACES_QUOTE,
  study_title: 'Post-Trial Feedback',
  transcript_url: 'https://app.koji.so/studies/xyz789/interviews/1',
  completed_at: '2026-04-16T10:22:55Z',
  ...overrides,
});

const nonSalesforceKeys = (object) => Object.keys(object).filter((k) => !k.startsWith(SF_PREFIX)).sort();

test('individual trigger fields map to a Contact lookup and field values', async () => {
  const input = triggerFields();
  const result = await run(input);
  assert.equal(result.action, 'update_contact');
  assert.equal(result.should_update, 'true');
  assert.equal(result.event_key, `${input.interview_id}:interview.analysis_ready`);
  assert.equal(result.delivery_status, null, 'map does not claim');
  assert.equal(result.lookup_field, 'Email');
  assert.equal(result.lookup_value, 'sarah@example.com');
  assert.match(result.lookup_soql, /FROM Contact WHERE Email = 'sarah@example\.com'/);
  assert.equal(result.sf__Latest_Customer_Quote__c, BRACES_QUOTE);
  assert.equal(result.sf__Interview_Sentiment__c, 'negative');
  assert.equal(result.themes, 'integration friction, pricing');
  assert.deepEqual(nonSalesforceKeys(result), nonSalesforceKeys(App.creates.map_interview.operation.sample));
});

test('with a Contact id and an e-mail, the e-mail is the fallback lookup for a second Find step', async () => {
  // A Contact id from an old personalized link may name a Contact since merged or deleted.
  const result = await run(triggerFields({ salesforce_contact_id: '0035g0000000001' }));
  assert.equal(result.lookup_strategy, 'contact_id');
  assert.equal(result.lookup_value, '0035g0000000001AAA');
  assert.equal(result.fallback_lookup_strategy, 'email');
  assert.equal(result.fallback_lookup_field, 'Email');
  assert.equal(result.fallback_lookup_value, 'sarah@example.com');
  assert.equal(result.fallback_lookup_soql, "SELECT Id, Last_Koji_Interview_At__c FROM Contact WHERE Email = 'sarah@example.com' LIMIT 1");
});

test('with one lookup there is no fallback', async () => {
  const result = await run(triggerFields());
  assert.equal(result.fallback_lookup_field, null);
  assert.equal(result.fallback_lookup_soql, null);
});

test('the sample is what the connector answers for the sample\'s payload', async () => {
  const result = await run({ payload_json: JSON.stringify(SAMPLE_PAYLOAD) });
  assert.deepEqual(result, App.creates.map_interview.operation.sample);
});

test('map does not claim: the same interview maps again', async () => {
  const input = triggerFields();
  await run(input);
  const again = await run(input);
  assert.equal(again.action, 'update_contact');
});

test('a whole payload as JSON (with braces) is sent unaltered', async () => {
  const payload = interviewEvent();
  const result = await run({ payload_json: JSON.stringify(payload), respondent_email: 'ignored@example.com' });
  assert.equal(result.quote, BRACES_QUOTE);
  assert.equal(result.respondent_email, "o'brien@example.com");
  assert.equal(result.action, 'update_contact');
});

test('anonymous interviews stop every path; low-quality ones only post to Slack', async () => {
  const anonymous = await run(triggerFields({ respondent_email: '' }));
  assert.deepEqual([anonymous.action, anonymous.skip_reason, anonymous.should_update, anonymous.should_notify],
    ['skip', 'anonymous', 'false', 'false']);
  const low = await run(triggerFields({ quality_score: '2' }));
  assert.deepEqual([low.action, low.skip_reason, low.should_update, low.should_notify],
    ['skip', 'below_quality_threshold', 'false', 'true']);
});

test('a payload that is not JSON is refused before any request', async () => {
  await assert.rejects(run({ payload_json: '{"type": ' }), /is not valid JSON/);
});

test('a payload the connector refuses names the offending field', async () => {
  const payload = { type: 42, data: { quality_score: 9 } }; // no documented shape fits
  await assert.rejects(run({ payload_json: JSON.stringify(payload) }), (err) => {
    assert.equal(err.name, 'AppError');
    assert.match(err.message, /validation-failed/);
    assert.match(err.message, /quality_score/);
    return true;
  });
});

// docs/design.md: 422 when the payload violates the JSON Schema (pointer /data/quality_score).
test('a quality score above 5 from the trigger is refused (design.md 422)', async () => {
  await assert.rejects(run(triggerFields({ quality_score: '9' })), /quality_score/);
});

// Number("2 of 5") is NaN, sent as null: the connector took "no score" as passing and a
// low-quality interview updated the Contact. Number(" ") was 0.
test('a Quality Score that is not a number is refused, naming the field', async () => {
  for (const score of ['2 of 5', 'n/a', 'Infinity', '4,2', '0x']) {
    await assert.rejects(run(triggerFields({ quality_score: score })), (err) => {
      assert.equal(err.name, 'AppError', `${score}: ${err.stack}`);
      const { message } = JSON.parse(err.message); // z.errors.Error: {message, code, status}
      assert.match(message, /^"Quality Score" must be a number/);
      assert.ok(message.includes(`"${score}"`), message);
      return true;
    }, `${score} must be refused`);
  }
});

test('a blank Quality Score is not given (not 0); a padded number is that number', async () => {
  for (const score of [' ', '', '  \t']) {
    const result = await run(triggerFields({ quality_score: score }));
    assert.equal(result.quality_score, null, JSON.stringify(score));
    assert.equal(result.action, 'update_contact', JSON.stringify(score));
  }
  const low = await run(triggerFields({ quality_score: ' 2 ' }));
  assert.equal(low.quality_score, 2);
  assert.equal(low.skip_reason, 'below_quality_threshold');
  const numeric = await run(triggerFields({ quality_score: 4.5 }));
  assert.equal(numeric.quality_score, 4.5);
});

// `list: true`: Zapier passes an array even when one mapped item is "a, b"; the help text
// promises comma-separated text is split. The answer joins themes with ", " again, so the
// test reads what the step sent.
test('Themes: every mapped item is split on commas, trimmed, empties dropped', async () => {
  const answer = JSON.stringify({ action: 'skip', event: {}, salesforce: { fields: {} } });
  const cases = [
    [['integration friction, pricing'], ['integration friction', 'pricing']],
    [['onboarding', ' pricing , support ,', ''], ['onboarding', 'pricing', 'support']],
    ['a,b', ['a', 'b']],
    [[' , '], undefined],
  ];
  await withServerAnswering(200, { 'Content-Type': 'application/json' }, answer, async (url, server) => {
    for (const [themes, expected] of cases) {
      await appTester(map, { authData: { connector_url: url, api_key: 'ck_any' }, inputData: triggerFields({ themes }) });
      assert.deepEqual(JSON.parse(server.bodies.pop()).data.themes, expected, JSON.stringify(themes));
    }
  });
  const result = await run(triggerFields({ themes: ['integration friction, pricing'] }));
  assert.equal(result.themes, 'integration friction, pricing');
});
