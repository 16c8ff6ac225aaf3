'use strict';

/** "Mark Event Completed", "Find Event" and the connection test against the real connector. */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, sign, authData } = require('./support/connector');
const { interviewEvent, rawBody } = require('./support/payloads');
const { withServerAnswering } = require('./support/fake-server');
const { STEPS } = require('./support/steps');

const appTester = zapier.createAppTester(App);
const verify = App.creates.verify_koji_webhook.operation.perform;
const complete = App.creates.mark_event_completed.operation.perform;
const find = App.searches.find_event.operation.perform;

const connector = useConnector();

const bundle = (inputData, auth = {}) => ({ authData: authData(connector, auth), inputData });

// Zapier renders connectionLabel with the test's output as bundle.inputData, and shows the
// app's name ("Koji Connector") beside it already: the label is the host and nothing else.
const renderLabel = (label, inputData) =>
  label.replace(/{{\s*bundle\.inputData\.(\w+)\s*}}/g, (_, key) => String(inputData[key]));

test('the connection test passes and labels the connection with the host', async () => {
  const result = await appTester(App.authentication.test, bundle({}));
  assert.equal(result.connector_host, new URL(connector.url).host);
  assert.equal(renderLabel(App.authentication.connectionLabel, result), new URL(connector.url).host);
});

test('a Connector URL without https:// is a clear error, sent nowhere, that does not repeat it', async () => {
  await withServerAnswering(200, { 'Content-Type': 'text/plain' }, 'not used', async (url, server) => {
    const { host } = new URL(url);
    const steps = [
      ['the connection test', App.authentication.test, {}],
      ['Mark Event Completed', complete, { event_key: 'x:interview.completed' }],
      ['Find Event', find, { event_key: 'x:interview.completed' }],
    ];
    // The last: the two fields swapped, the API key in the Connector URL field.
    const values = ['koji.acme-corp.com', host, `localhost:${new URL(url).port}`, 'ck_live_7f3a9c0e5b21'];
    for (const connectorUrl of values) {
      for (const [name, perform, inputData] of steps) {
        await assert.rejects(appTester(perform, bundle(inputData, { connector_url: connectorUrl })), (err) => {
          assert.equal(err.name, 'AppError', `${name} with ${connectorUrl}: ${err.stack}`);
          assert.match(err.message, /Connector URL/);
          assert.match(err.message, /must start with https:\/\//);
          assert.match(err.message, /https:\/\/koji-connector\.example\.com/);
          assert.ok(!err.message.includes(connectorUrl), `${name} repeats the value: ${err.message}`);
          return true;
        });
      }
    }
    assert.deepEqual(server.requests, []);
  });
});

test('an http:// Connector URL of another machine is refused before anything is sent', async () => {
  const values = ['http://koji-connector.example.com', 'http://10.0.0.5:8080/', 'http://127.0.0.1.nip.io',
    'http://[2001:db8::1]:8080'];
  for (const connectorUrl of values) {
    for (const [name, perform, inputData] of STEPS) {
      await assert.rejects(appTester(perform, bundle(inputData, { connector_url: connectorUrl })), (err) => {
        assert.equal(err.name, 'AppError', `${name} with ${connectorUrl}: ${err.stack}`);
        assert.match(err.message, /The Connector URL must start with https:\/\/: over http:\/\/ the API key/);
        assert.ok(!err.message.includes(new URL(connectorUrl).hostname), `${name} repeats the value: ${err.message}`);
        return true;
      }, `${name} with ${connectorUrl} must be refused`);
    }
  }
});

test('an http:// Connector URL on this machine (zapier invoke, a local test) is used', async () => {
  const { port } = new URL(connector.url);
  for (const local of [`http://localhost:${port}`, `http://127.0.0.1:${port}`]) {
    const result = await appTester(App.authentication.test, bundle({}, { connector_url: local }));
    assert.equal(result.connector_host, new URL(local).host);
  }
  // gunicorn listens on 127.0.0.1 only: [::1] is tried, and refused by the network, not by the app.
  await assert.rejects(appTester(App.authentication.test, bundle({}, { connector_url: `http://[::1]:${port}` })),
    /Could not reach the connector at http:\/\/\[::1\]/);
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

// "" and blank asked for /v1/events//complete ("No route matches"); ".." was normalized to
// POST /v1/complete; "." to /v1/events/complete. A missing key was sent as "undefined".
test('an empty, blank, "." or ".." Event Key is refused before sending, naming the field', async () => {
  await withServerAnswering(200, { 'Content-Type': 'application/json' }, '{"state": "completed"}', async (url, server) => {
    for (const eventKey of ['', '   ', '.', '..', ' .. ', undefined, null]) {
      for (const [name, perform] of [['Mark Event Completed', complete], ['Find Event', find]]) {
        await assert.rejects(appTester(perform, bundle({ event_key: eventKey }, { connector_url: url })), (err) => {
          assert.equal(err.name, 'AppError', `${name} with ${JSON.stringify(eventKey)}: ${err.stack}`);
          const { message, code } = JSON.parse(err.message);
          assert.equal(code, 'invalid_event_key');
          assert.match(message, /^"Event Key" is /, message);
          assert.match(message, /Map \*\*Event Key\*\* from the "Verify Koji Webhook" step/);
          return true;
        }, `${name} with ${JSON.stringify(eventKey)} must be refused`);
      }
    }
    assert.deepEqual(server.requests, [], 'nothing was sent');
  });
});

test('a key made of three dots, or holding "..", is still a key', async () => {
  for (const eventKey of ['...', 'a..b:interview.completed']) {
    assert.deepEqual(await appTester(find, bundle({ event_key: eventKey })), [], eventKey);
  }
});

// Before: "/ must be a positive integer", as though the body were wrong.
test('a 422 entry naming a query parameter shows the parameter, not "/"', async () => {
  const body = JSON.stringify({
    type: 'https://github.com/koji-connector/connector/blob/main/docs/problems.md#validation-failed',
    title: 'Validation failed', status: 422, detail: 'The query parameter attempt must be a positive whole number.',
    errors: [{ parameter: 'attempt', message: 'must be a positive integer' }],
  });
  await withServerAnswering(422, { 'Content-Type': 'application/problem+json' }, body, async (url) => {
    await assert.rejects(appTester(complete, bundle({ event_key: 'x:interview.completed' }, { connector_url: url })), (err) => {
      const { message } = JSON.parse(err.message);
      assert.match(message, / — parameter "attempt" must be a positive integer$/);
      assert.doesNotMatch(message, /\/ must/);
      return true;
    });
  });
});

// Before: "Connector error 404 (not-found): Not found: No event with this key is in the
// ledger…", with no word on what an event key is; the usual mistake is the Interview ID mapped.
test('Mark Event Completed on an unknown key says to map Event Key, and spots an Interview ID', async () => {
  const interviewId = 'f8e7d6c5-b4a3-2109-8765-432109876543';
  for (const [eventKey, hint] of [['nope:interview.completed', false], [interviewId, true]]) {
    await assert.rejects(appTester(complete, bundle({ event_key: eventKey })), (err) => {
      assert.equal(err.name, 'AppError', err.stack);
      const { message, code, status } = JSON.parse(err.message);
      assert.equal(status, 404);
      assert.equal(code, 'unknown_event');
      assert.match(message, /^The connector's ledger has no event with this Event Key \(not-found: /);
      assert.doesNotMatch(message, /\.\)\./, 'one full stop after the connector\'s detail');
      assert.match(message, /Map \*\*Event Key\*\* from the "Verify Koji Webhook" step of the same run \(`<interview id>:<event type>`/);
      assert.equal(/is it the Interview ID\?/.test(message), hint, message);
      assert.ok(!message.includes(eventKey), `the key is not repeated: ${message}`);
      return true;
    });
  }
});

// The connector's own 404 for a path no route matches (a Connector URL with a path): every step
// says so, as Find Event did. Before: "Connector error 404 (not-found): Not found: No route
// matches …" in the connection test and the other steps, with no word on the Connector URL.
test('a Connector URL with a path: every step and the connection test say the URL must have no path', async () => {
  for (const [name, perform, inputData] of STEPS) {
    await assert.rejects(appTester(perform, bundle(inputData, { connector_url: `${connector.url}/v1` })), (err) => {
      assert.equal(err.name, 'AppError', `${name}: ${err.stack}`);
      const { message } = JSON.parse(err.message);
      assert.match(message, /^The connector has no route for (GET|POST) \/v1\/v1\//, name);
      assert.match(message, /Connector URL of this connection is the connector's base URL with no path/, name);
      return true;
    }, `${name} must fail`);
  }
});
