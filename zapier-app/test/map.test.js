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

// Path A's *Keep the newer* branch writes nothing: its message must not be Slack Text, which
// says "Salesforce Contact updated". The connector's slack.kept_newer, empty where there is no
// such branch.
test('the message for a Contact holding a later interview says it was not written; empty without that branch', async () => {
  const negative = await run(triggerFields());
  assert.match(negative.slack_text, /^:rotating_light: Negative interview:/);
  assert.match(negative.slack_kept_newer_text,
    /^:rotating_light: Negative interview, not written \(the Contact holds a later interview\): Sarah/);
  assert.doesNotMatch(negative.slack_kept_newer_text, /updated/);
  assert.match(negative.slack_kept_newer_blocks_json, /"type":"header"/);
  const positive = await run(triggerFields({ sentiment: 'positive' }));
  assert.match(positive.slack_text, /^:speech_balloon: Salesforce Contact updated:/);
  assert.match(positive.slack_kept_newer_text, /^:information_source: Not written \(the Contact holds a later interview\):/);
  assert.equal(positive.keep_newer_field, 'Last_Koji_Interview_At__c');
  for (const [why, input] of [['low quality', { quality_score: '2' }], ['anonymous', { respondent_email: '' }]]) {
    const skipped = await run(triggerFields(input));
    assert.equal(skipped.should_update, 'false', why);
    assert.equal(skipped.slack_kept_newer_text, null, why);
    assert.equal(skipped.slack_kept_newer_blocks_json, null, why);
  }
  // An event with no time has nothing to compare: Path A's *Write* branch takes it.
  const noTime = await run(triggerFields({ completed_at: '' }));
  assert.deepEqual([noTime.should_update, noTime.keep_newer_value, noTime.slack_kept_newer_text], ['true', null, null]);
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

// Step errors are kept in Zap history and e-mailed to the Zap's owner: like the connector's own
// refusals they name the field and the problem, never the value. Before, JSON.parse's message
// quoted the start of the text ("Unexpected token 'j', "jane.doe@e"... is not valid JSON").
test('a payload that is not JSON is refused without quoting it', async () => {
  const cases = [
    ['jane.doe@example.com: we hate the pricing', /\(41 characters\)/],
    ['{"data": {"respondent_email": "jane.doe@example.com"', /\(it ends early \(52 characters\)|\(at character \d+ of 52\)/],
    ["{'respondent_email': 'jane.doe@example.com'}", /\(at character 2 of 44\)/],
  ];
  for (const [text, where] of cases) {
    await assert.rejects(run({ payload_json: text }), (err) => {
      assert.equal(err.name, 'AppError', err.stack);
      const { message } = JSON.parse(err.message);
      assert.match(message, /^"Koji Payload \(JSON\)" is not valid JSON \(/);
      assert.match(message, where, message);
      assert.doesNotMatch(message, /jane/, message);
      return true;
    }, text);
  }
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
// The value is not repeated (before: `must be a number, not "<value>"`): a mis-mapped field
// may hold the respondent's name, e-mail or words.
test('a Quality Score that is not a number is refused, naming the field, not the value', async () => {
  const mismapped = 'Jane Doe <jane.doe@example.com> said: we hate the pricing';
  for (const score of ['2 of 5', 'n/a', 'Infinity', '4,2', '0x', mismapped]) {
    await assert.rejects(run(triggerFields({ quality_score: score })), (err) => {
      assert.equal(err.name, 'AppError', `${score}: ${err.stack}`);
      const { message } = JSON.parse(err.message); // z.errors.Error: {message, code, status}
      assert.equal(message, `"Quality Score" must be a number; the mapped value (${score.length} characters) ` +
        'is not one. Map a numeric value (e.g. `4.2`) or leave it empty.');
      return true;
    }, `${score} must be refused`);
  }
});

// A warning about the payload as a whole has no field: before, the output read
// ": the payload's data.completed_at is not an ISO 8601 date and time; not used".
test('Salesforce Warnings without a field do not start with ": "', async () => {
  const result = await run(triggerFields({ completed_at: 'yesterday' }));
  assert.match(result.salesforce_warnings, /completed_at/);
  assert.doesNotMatch(result.salesforce_warnings, /^: |; : /);
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
