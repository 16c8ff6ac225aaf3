'use strict';

/** "Verify Koji Webhook" against the real connector under gunicorn. */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, sign, authData } = require('./support/connector');
const { interviewEvent, reportEvent, rawBody, BRACES_QUOTE } = require('./support/payloads');
const { SF_PREFIX } = require('../lib/answer');
const { SAMPLE_PAYLOAD } = require('../lib/sample');

const appTester = zapier.createAppTester(App);
const verify = App.creates.verify_koji_webhook.operation.perform;
const complete = App.creates.mark_event_completed.operation.perform;
const find = App.searches.find_event.operation.perform;
const dynamicFields = App.creates.verify_koji_webhook.operation.outputFields.find((f) => typeof f === 'function');

const connector = useConnector();

const run = (body, signature = sign(body, connector.secret), auth = {}) =>
  appTester(verify, { authData: authData(connector, auth), inputData: { raw_body: body, signature } });

const nonSalesforceKeys = (object) => Object.keys(object).filter((k) => !k.startsWith(SF_PREFIX)).sort();

test('a signed body with {{braces}} verifies and flattens the answer', async () => {
  const payload = interviewEvent();
  const result = await run(rawBody(payload));

  assert.equal(result.action, 'update_contact');
  assert.equal(result.skip_reason, null);
  assert.equal(result.should_update, 'true');
  assert.equal(result.delivery_status, 'first');
  assert.equal(result.event_key, `${payload.data.interview_id}:interview.analysis_ready`);
  assert.equal(result.id, result.event_key);
  assert.equal(result.complete_path, `/v1/events/${result.event_key}/complete`);
  assert.equal(result.quote, BRACES_QUOTE, 'the body reached the connector unaltered');
  assert.equal(result.respondent_email, "o'brien@example.com");
  assert.equal(result.lookup_field, 'Email');
  assert.equal(result.lookup_value, "o'brien@example.com");
  assert.ok(result.lookup_soql.includes("'o\\'brien@example.com'"), result.lookup_soql);
  assert.equal(result.sf__Latest_Customer_Quote__c, BRACES_QUOTE);
  assert.equal(result.sf__Interview_Themes__c, 'onboarding, pricing');
  assert.ok(result.slack_text, 'Slack text');
  assert.deepEqual(nonSalesforceKeys(result), nonSalesforceKeys(App.creates.verify_koji_webhook.operation.sample),
    'the sample has exactly the keys of a real answer');
});

test('the sample is what the connector answers for the sample\'s payload, signed', async () => {
  const result = await run(rawBody(SAMPLE_PAYLOAD));
  assert.deepEqual(result, App.creates.verify_koji_webhook.operation.sample);
});

test('a tampered body is a clear step error, not a re-authentication prompt', async () => {
  const body = rawBody(interviewEvent());
  const signature = sign(body, connector.secret);
  await assert.rejects(run(body.replace('Acme', 'Acne'), signature), (err) => {
    assert.equal(err.name, 'AppError');
    assert.match(err.message, /signature does not match/);
    assert.match(err.message, /invalid_signature/);
    return true;
  });
});

// Before: "Connector error 400 (malformed-json): Body is not a JSON object: The body in
// raw_body_base64 is not valid JSON…", naming the app's envelope, which the user never mapped.
test('a signed body that is not a JSON object names the mapped Raw Body, not the envelope', async () => {
  for (const body of ['name=Sarah&email=sarah%40example.com', '[1, 2]']) {
    await assert.rejects(run(body), (err) => {
      assert.equal(err.name, 'AppError', err.stack);
      const { message, code } = JSON.parse(err.message);
      assert.equal(code, 'malformed_json');
      assert.match(message, /^The webhook's Raw Body is not a JSON object \(malformed-json\): The Raw Body (is not valid JSON|must be a JSON object)/);
      assert.match(message, /Catch Raw Hook's \*\*Raw Body\*\*/);
      assert.doesNotMatch(message, /raw_body/);
      assert.ok(!message.includes('sarah'), message);
      return true;
    }, body);
  }
});

test('a signature made with another secret, or none, is refused the same way', async () => {
  const body = rawBody(interviewEvent());
  for (const signature of [sign(body, 'whsec_wrong'), '']) {
    await assert.rejects(run(body, signature), (err) => err.name === 'AppError' && /invalid_signature/.test(err.message));
  }
});

test('a wrong connector API key is an authentication error', async () => {
  const body = rawBody(interviewEvent());
  await assert.rejects(run(body, undefined, { api_key: 'ck_wrong' }), (err) => {
    assert.equal(err.name, 'ExpiredAuthError');
    assert.match(err.message, /API key/);
    return true;
  });
});

test('a second copy while the first is claimed is "retry later"; after completion a duplicate', async () => {
  const body = rawBody(interviewEvent());
  const first = await run(body);
  assert.equal(first.delivery_status, 'first');

  await assert.rejects(run(body), (err) => {
    assert.equal(err.name, 'ThrottledError');
    const { message } = JSON.parse(err.message);
    assert.match(message, /Retry later/);
    // The connector's detail says "answer non-2xx so Koji retries": not so behind Catch Raw
    // Hook, which has answered Koji 200 already; only a retry of this step gets the event through.
    assert.doesNotMatch(message, /Koji retries/);
    return true;
  });

  await appTester(complete, { authData: authData(connector), inputData: { event_key: first.event_key } });
  const replay = await run(body);
  assert.equal(replay.action, 'skip');
  assert.equal(replay.skip_reason, 'duplicate');
  assert.equal(replay.should_update, 'false');
  assert.equal(replay.should_notify, 'false');
  assert.equal(replay.delivery_status, 'duplicate');
});

test('an anonymous interview gives an output a Filter step stops on', async () => {
  const body = rawBody(interviewEvent({ email: null }));
  const result = await run(body);
  assert.equal(result.action, 'skip');
  assert.equal(result.skip_reason, 'anonymous');
  assert.equal(result.should_update, 'false');
  assert.equal(result.respondent_email, null);
  // A skip with nothing left to do ends its claim at once: the next copy is decided afresh
  // (not a 409), so Koji's Retry after a profile change does the work.
  const again = await run(body);
  assert.equal(again.skip_reason, 'anonymous');
  assert.equal(again.delivery_status, 'retry');
});

test('a low-quality interview is not for Salesforce but is for Slack', async () => {
  const result = await run(rawBody(interviewEvent({ quality: 2 })));
  assert.equal(result.action, 'skip');
  assert.equal(result.skip_reason, 'below_quality_threshold');
  assert.equal(result.should_update, 'false');
  assert.equal(result.should_notify, 'true');
  assert.match(result.slack_text, /Not written/);
});

test('the output fields list the active profile\'s Salesforce fields', async () => {
  const result = await run(rawBody(interviewEvent()));
  const fields = await appTester(dynamicFields, { authData: authData(connector), inputData: {} });
  const keys = fields.map((f) => f.key);
  for (const key of Object.keys(result).filter((k) => k.startsWith(SF_PREFIX))) {
    assert.ok(keys.includes(key), `${key} is among the dynamic output fields ${keys}`);
  }
  assert.ok(fields.every((f) => f.label.startsWith('Salesforce: ')));
  const quote = fields.find((f) => f.key === 'sf__Latest_Customer_Quote__c');
  assert.equal(quote.label, 'Salesforce: Latest Customer Quote (Latest_Customer_Quote__c)',
    'labels come from the profile (GET /v1/salesforce/fields), not the default list');
});

// README "Zap 1": path A runs when Should Update Salesforce is "true"; path B when it is
// "false" and Should Post to Slack is "true"; each ends with Mark Event Completed. That
// must match the n8n workflow: what a path runs for is still claimed (the Zap completes
// it), and what no path runs for the connector has released already (nothing was done).
test('the README\'s Paths send every kind of event where the n8n workflow does', async () => {
  const auth = authData(connector);
  const pathOf = (r) => {
    const a = r.should_update === 'true';
    const b = r.should_update === 'false' && r.should_notify === 'true';
    assert.ok(!(a && b), 'at most one path runs');
    return a ? 'A' : b ? 'B' : 'none';
  };
  const stateOf = async (key) => (await appTester(find, { authData: auth, inputData: { event_key: key } }))[0].state;
  const cases = [
    ['update_contact', interviewEvent(), 'A'],
    ['notify (report.generated)', reportEvent(), 'B'],
    ['below_quality_threshold', interviewEvent({ quality: 2 }), 'B'],
    ['failed_quality_gate', interviewEvent({ type: 'interview.failed_quality_gate', quality: 1 }), 'B'],
    ['anonymous', interviewEvent({ email: null }), 'none'],
    ['not_mapped', interviewEvent({ type: 'interview.started' }), 'none'],
  ];
  for (const [name, payload, expected] of cases) {
    const body = rawBody(payload);
    const result = await run(body);
    assert.equal(pathOf(result), expected, `${name}: ${result.action}/${result.skip_reason}`);
    if (expected === 'none') {
      assert.equal(await stateOf(result.event_key), 'released', `${name}: the connector ended its claim`);
      continue;
    }
    assert.equal(await stateOf(result.event_key), 'claimed', `${name}: left for the Zap to complete`);
    await appTester(complete, { authData: auth, inputData: { event_key: result.event_key } });
    const replay = await run(body);
    assert.equal(replay.skip_reason, 'duplicate', name);
    assert.equal(pathOf(replay), 'none', `${name}: a duplicate runs no path`);
  }
});
