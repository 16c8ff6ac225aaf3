'use strict';

/**
 * A connector that cannot be reached (nothing listening, a name that does not resolve) is one
 * clear step error naming the Connector URL's scheme and host; and no error of a step carries
 * the step's input: zapier-platform-core appends a "What happened" section with the bundle
 * (the Koji body, the respondent's e-mail) to any error not marked `doNotContextify`.
 */

const assert = require('node:assert/strict');
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

const assertEveryStepCannotReach = async (connectorUrl, origin, reason) => {
  for (const [name, perform, inputData] of STEPS) {
    const bundle = { authData: { connector_url: connectorUrl, api_key: 'ck_any' }, inputData };
    await assert.rejects(appTester(perform, bundle), (err) => {
      assert.equal(err.name, 'AppError', `${name}: ${err.stack}`);
      const { message } = JSON.parse(err.message);
      assert.match(message, new RegExp(`^Could not reach the connector at ${origin.replace(/\./g, '\\.')}: ${reason}\\. ` +
        'Check the Connector URL and that the connector is running\\.$'), name);
      assertPrivate(err.message, name);
      return true;
    }, `${name} must fail`);
  }
};

test('a connector that is down (connection refused) is a clear step error without the input', async () => {
  const port = await closedPort();
  await assertEveryStepCannotReach(`http://127.0.0.1:${port}/`, `http://127.0.0.1:${port}`, 'ECONNREFUSED');
});

test('a Connector URL whose name does not resolve is a clear step error, path left out', async () => {
  // .invalid never resolves (RFC 6761); without DNS at all the code is EAI_AGAIN.
  await assertEveryStepCannotReach('https://koji-connector.invalid/some/path', 'https://koji-connector.invalid',
    '(ENOTFOUND|EAI_AGAIN)');
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
