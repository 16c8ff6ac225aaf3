'use strict';

/**
 * A connector that cannot be reached (nothing listening, a reset, a name that does not resolve)
 * is one clear error naming the Connector URL's scheme and host. In a step, a failure that may
 * pass (refused, reset: the connector restarting) is "retry later" (ThrottledError): Zapier's
 * Catch Raw Hook has already answered Koji 200, so Koji will not deliver again. A name that does
 * not resolve, and anything in the connection test, is an error at once. No error of a step
 * carries the step's input: zapier-platform-core appends a "What happened" section with the
 * bundle (the Koji body, the respondent's e-mail) to any error not marked `doNotContextify`.
 */

const assert = require('node:assert/strict');
const dns = require('node:dns');
const net = require('node:net');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, sign, authData } = require('./support/connector');
const { SAMPLE_PAYLOAD } = require('../lib/sample');

const appTester = zapier.createAppTester(App);
const verify = App.creates.verify_koji_webhook.operation.perform;

const connector = useConnector();

const EMAIL = SAMPLE_PAYLOAD.data.respondent.email;
const QUOTE = SAMPLE_PAYLOAD.data.quote;

const STEPS = [
  ['the connection test', App.authentication.test, {}],
  ['Verify Koji Webhook', verify, { raw_body: JSON.stringify(SAMPLE_PAYLOAD), signature: `sha256=${'0'.repeat(64)}` }],
  ['Map Interview', App.creates.map_interview.operation.perform, { payload_json: JSON.stringify(SAMPLE_PAYLOAD) }],
  ['Mark Event Completed', App.creates.mark_event_completed.operation.perform, { event_key: 'x:interview.completed' }],
  ['Find Event', App.searches.find_event.operation.perform, { event_key: 'x:interview.completed' }],
];

/** A port on 127.0.0.1 nothing listens on (just freed). */
const closedPort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const assertPrivate = (message, name) => {
  assert.ok(!message.includes(EMAIL), `${name}: the respondent's e-mail is in the error: ${message}`);
  assert.ok(!message.includes(QUOTE), `${name}: the interview is in the error: ${message}`);
  assert.doesNotMatch(message, /What happened/, name);
};

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Every step fails with "Could not reach the connector at <origin>: <reason>."; `retried`
 * says whether the steps (not the connection test) raise it as "retry later".
 */
const assertEveryStepCannotReach = async (connectorUrl, origin, reason, { retried }) => {
  const cannot = `^Could not reach the connector at ${escape(origin)}: ${reason}\\. `;
  for (const [name, perform, inputData] of STEPS) {
    const bundle = { authData: { connector_url: connectorUrl, api_key: 'ck_any' }, inputData };
    await assert.rejects(appTester(perform, bundle), (err) => {
      if (retried && name !== 'the connection test') {
        assert.equal(err.name, 'ThrottledError', `${name}: ${err.stack}`);
        const { message, delay } = JSON.parse(err.message);
        assert.match(message, new RegExp(`${cannot}Retry later; if this lasts, check the Connector URL and ` +
          'that the connector is running\\.$'), name);
        assert.equal(delay, 60, name);
      } else {
        assert.equal(err.name, 'AppError', `${name}: ${err.stack}`);
        const { message } = JSON.parse(err.message);
        assert.match(message, new RegExp(`${cannot}Check the Connector URL and that the connector is running\\.$`), name);
      }
      assertPrivate(err.message, name);
      return true;
    }, `${name} must fail`);
  }
};

// Before: a plain step error in every step, so the run stopped for good while the connector
// restarted, and the interview never reached Salesforce (Koji had its 200 from Zapier).
test('a connector that is down (connection refused) is "retry later" in the steps, an error in the connection test', async () => {
  const port = await closedPort();
  await assertEveryStepCannotReach(`http://127.0.0.1:${port}/`, `http://127.0.0.1:${port}`, 'ECONNREFUSED',
    { retried: true });
});

test('a connection the connector (or a proxy) resets is "retry later" in the steps', async () => {
  const server = net.createServer((socket) => socket.resetAndDestroy());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${server.address().port}`;
    await assertEveryStepCannotReach(url, url, 'ECONNRESET', { retried: true });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a Connector URL whose name does not resolve is an error in every step, path left out', async () => {
  // .invalid never resolves (RFC 6761): ENOTFOUND, a wrong name, which retrying does not fix.
  // Without DNS at all the code is EAI_AGAIN, a failure that may pass, so the steps retry.
  const code = await new Promise((resolve) => dns.lookup('koji-connector.invalid', (err) => resolve(err && err.code)));
  await assertEveryStepCannotReach('https://koji-connector.invalid/some/path', 'https://koji-connector.invalid',
    code, { retried: code === 'EAI_AGAIN' });
});

test('a rejected API key is an authentication error that does not carry the webhook body', async () => {
  const body = JSON.stringify(SAMPLE_PAYLOAD);
  const bundle = {
    authData: authData(connector, { api_key: 'ck_wrong' }),
    inputData: { raw_body: body, signature: sign(body, connector.secret) },
  };
  await assert.rejects(appTester(verify, bundle), (err) => {
    assert.equal(err.name, 'ExpiredAuthError', err.stack);
    assert.match(err.message, /The connector rejected the API key/);
    assertPrivate(err.message, 'Verify');
    return true;
  });
});
