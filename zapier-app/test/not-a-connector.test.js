'use strict';

/**
 * A Connector URL that names something else: a plain web server or a login proxy answering
 * text/html (or some other JSON) with 200 on every path. The connection test must refuse it,
 * and every step must say the same thing instead of "succeeding" with empty output or
 * failing with a TypeError (lib/shapes.js).
 */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { withServerAnswering } = require('./support/fake-server');
const { STEPS } = require('./support/steps');
const { SF_PREFIX, DEFAULT_SALESFORCE_FIELDS } = require('../lib/answer');

const appTester = zapier.createAppTester(App);

const bundle = (url, inputData = {}) => ({ authData: { connector_url: url, api_key: 'ck_any' }, inputData });

const NOT_A_CONNECTOR = /The Connector URL did not answer like a Koji connector/;


const assertEveryStepRefuses = async (url, what) => {
  for (const [name, perform, inputData] of STEPS) {
    await assert.rejects(appTester(perform, bundle(url, inputData)), (err) => {
      assert.equal(err.name, 'AppError', `${name} on ${what}: ${err.stack}`);
      assert.match(err.message, NOT_A_CONNECTOR, `${name} on ${what}`);
      assert.match(err.message, /https:\/\/koji-connector\.example\.com/, `${name}: says what to enter`);
      // The connector is served behind a TLS proxy (README, Deploying): the URL names that proxy,
      // so the message must not say "not a proxy in front of it".
      assert.match(err.message, /a TLS proxy in front of the connector must pass its \/v1\/ requests and answers through/, name);
      assert.doesNotMatch(err.message, /not a [^.;]*proxy/, name);
      return true;
    }, `${name} on ${what} must fail`);
  }
};

test('the connection test refuses a web server answering 200 text/html on every path', async () => {
  const page = '<!doctype html><html><body><form action="/login">Sign in</form></body></html>';
  await withServerAnswering(200, { 'Content-Type': 'text/html' }, page, async (url) => {
    await assert.rejects(appTester(App.authentication.test, bundle(url)), (err) => {
      assert.equal(err.name, 'AppError');
      assert.match(err.message, NOT_A_CONNECTOR);
      assert.match(err.message, /GET \/v1\/salesforce\/fields answered HTTP 200 \(text\/html\)/);
      return true;
    });
  });
});

test('every step refuses a login page answering 200 text/html as not a Koji connector', async () => {
  const page = '<html><body>Please sign in</body></html>';
  await withServerAnswering(200, { 'Content-Type': 'text/html; charset=utf-8' }, page, (url) =>
    assertEveryStepRefuses(url, 'an HTML page'));
});

test('every step refuses another JSON API that answers 200 on every path', async () => {
  for (const body of ['{}', '{"ok": true, "state": null}', '[]', 'null']) {
    await withServerAnswering(200, { 'Content-Type': 'application/json' }, body, (url) =>
      assertEveryStepRefuses(url, body));
  }
});

test('the Zap editor still lists the default Salesforce fields when the URL is not a connector', async () => {
  const dynamic = App.creates.verify_koji_webhook.operation.outputFields.find((f) => typeof f === 'function');
  await withServerAnswering(200, { 'Content-Type': 'text/html' }, '<html></html>', async (url) => {
    const fields = await appTester(dynamic, bundle(url));
    assert.deepEqual(fields.map((f) => f.key), DEFAULT_SALESFORCE_FIELDS.map((name) => SF_PREFIX + name));
  });
});


test('a login proxy answering 401 or 403 is not a Koji connector, not a rejected API key', async () => {
  // Before: "The connector rejected the API key", so the user changed a key that was right.
  for (const status of [401, 403]) {
    await withServerAnswering(status, { 'Content-Type': 'text/html', 'WWW-Authenticate': 'Basic' },
      '<html><body>Sign in</body></html>', (url) => assertEveryStepRefuses(url, `an HTML ${status}`));
  }
});

// A Connector URL naming a web site or a file server by mistake: it answers its own 404, 405 or
// 501 page (or a proxy its 500 page). Before: "Connector error 404 (http-404): The connector
// answered HTTP 404", as though the connector had answered, with no hint at the URL; only Find
// Event said "did not answer like a Koji connector".
test('an error page that is not the connector\'s problem+json is "not a Koji connector", in the connection test and every step', async () => {
  const page = '<!DOCTYPE HTML><html><body><h1>Error response</h1></body></html>';
  for (const status of [404, 405, 410, 501]) {
    for (const [contentType, body] of [['text/html', page], ['application/json', '{"error": "not found"}']]) {
      await withServerAnswering(status, { 'Content-Type': contentType }, body, async (url) => {
        await assertEveryStepRefuses(url, `${status} ${contentType}`);
        await assert.rejects(appTester(App.authentication.test, bundle(url)), (err) => {
          assert.match(err.message, new RegExp(`GET /v1/salesforce/fields answered HTTP ${status} \\(${contentType.replace('/', '\\/')}\\)`));
          return true;
        });
      });
    }
  }
});

// A proxy's own 400, 408 or 500 page in front of a connector whose URL is right: "not a Koji
// connector" sent the user after the URL (found reviewing the app's audit fixes). Both are named.
test('another error page without the connector\'s problem+json names the proxy and the URL', async () => {
  for (const status of [400, 408, 500]) {
    await withServerAnswering(status, { 'Content-Type': 'text/html' }, '<html>proxy error</html>', async (url) => {
      for (const [name, perform, inputData] of STEPS) {
        await assert.rejects(appTester(perform, bundle(url, inputData)), (err) => {
          assert.equal(err.name, 'AppError', `${name} on ${status}: ${err.stack}`);
          assert.doesNotMatch(err.message, NOT_A_CONNECTOR, `${name} on ${status}`);
          assert.match(err.message, new RegExp(`The connector or a proxy in front of it answered HTTP ${status} \\(text/html\\)`));
          assert.match(err.message, /proxy's log/);
          return true;
        }, `${name} on ${status} must fail`);
      }
    });
  }
});
