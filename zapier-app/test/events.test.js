'use strict';

/** "Mark Event Completed", "Find Event" and the connection test against the real connector. */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, sign, authData } = require('./support/connector');
const { interviewEvent, rawBody } = require('./support/payloads');

const appTester = zapier.createAppTester(App);
const verify = App.creates.verify_koji_webhook.operation.perform;
const complete = App.creates.mark_event_completed.operation.perform;
const find = App.searches.find_event.operation.perform;

const connector = useConnector();

const bundle = (inputData, auth = {}) => ({ authData: authData(connector, auth), inputData });

test('the connection test passes and labels the connection with the host', async () => {
  const result = await appTester(App.authentication.test, bundle({}));
  assert.equal(result.connector_host, new URL(connector.url).host);
});

test('a trailing slash in the connector URL is fine', async () => {
  const result = await appTester(App.authentication.test, bundle({}, { connector_url: `${connector.url}/` }));
  assert.equal(result.connector_host, new URL(connector.url).host);
});

test('the connection test refuses a wrong API key as an authentication error', async () => {
  await assert.rejects(appTester(App.authentication.test, bundle({}, { api_key: 'ck_wrong' })),
    (err) => err.name === 'ExpiredAuthError' && /API key/.test(err.message));
});

test('verify claims, Find Event sees the claim, Mark Event Completed completes it', async () => {
  const body = rawBody(interviewEvent());
  const verified = await appTester(verify, bundle({ raw_body: body, signature: sign(body, connector.secret) }));
  const key = verified.event_key;

  const [claimed] = await appTester(find, bundle({ event_key: key }));
  assert.equal(claimed.event_key, key);
  assert.equal(claimed.state, 'claimed');

  const completed = await appTester(complete, bundle({ event_key: key }));
  assert.equal(completed.id, key);
  assert.equal(completed.state, 'completed');
  assert.deepEqual(Object.keys(completed).sort(),
    Object.keys(App.creates.mark_event_completed.operation.sample).sort());

  const [found] = await appTester(find, bundle({ event_key: key }));
  assert.equal(found.state, 'completed');
});

test('Find Event answers an unknown key with no result', async () => {
  assert.deepEqual(await appTester(find, bundle({ event_key: 'nope:interview.completed' })), []);
});

test('Mark Event Completed on an unknown key is a clear error', async () => {
  await assert.rejects(appTester(complete, bundle({ event_key: 'nope:interview.completed' })),
    (err) => err.name === 'AppError' && /404/.test(err.message) && /not-found/.test(err.message));
});
