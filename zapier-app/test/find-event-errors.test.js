'use strict';

/**
 * "Find Event" when the connector answers an error: only 404 is "no result"; any other
 * non-2xx is the error every other step raises for it (middleware.js), never a found event.
 * This file's connector has its ledger broken on purpose, so it has a connector of its own.
 */

const assert = require('node:assert/strict');
const http = require('node:http');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, breakLedger, authData } = require('./support/connector');

const appTester = zapier.createAppTester(App);
const find = App.searches.find_event.operation.perform;
const complete = App.creates.mark_event_completed.operation.perform;

const connector = useConnector();

const bundle = (inputData, auth = {}) => ({ authData: authData(connector, auth), inputData });

/** Something in front of the connector (a reverse proxy) that answers every request `status`. */
const withProxyAnswering = async (status, contentType, body, fn) => {
  const server = http.createServer((req, res) => {
    res.writeHead(status, { 'Content-Type': contentType });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
};

test('Find Event with a wrong API key is an authentication error, not a result', async () => {
  await assert.rejects(appTester(find, bundle({ event_key: 'x:interview.completed' }, { api_key: 'ck_wrong' })),
    (err) => err.name === 'ExpiredAuthError' && /API key/.test(err.message));
});

test('Find Event behind a proxy answering 502 raises the connector error, not a found event', async () => {
  await withProxyAnswering(502, 'text/html', '<html><body>Bad Gateway</body></html>', async (url) => {
    await assert.rejects(appTester(find, bundle({ event_key: 'x:interview.completed' }, { connector_url: url })),
      (err) => {
        assert.equal(err.name, 'AppError');
        assert.match(err.message, /Connector error 502 \(http-502\): The connector answered HTTP 502/);
        return true;
      });
  });
});

test('Find Event raises a 503 problem+json as the same error Mark Event Completed raises', async () => {
  const problem = JSON.stringify({
    type: 'https://github.com/koji-connector/connector/blob/main/docs/problems.md#not-configured',
    title: 'This feature is not configured', status: 503, detail: 'The ledger is not available.',
  });
  await withProxyAnswering(503, 'application/problem+json', problem, async (url) => {
    const input = { event_key: 'x:interview.completed' };
    const findError = await appTester(find, bundle(input, { connector_url: url })).then(
      () => assert.fail('Find Event returned a result for a 503'), (err) => err);
    const completeError = await appTester(complete, bundle(input, { connector_url: url })).then(
      () => assert.fail('Mark Event Completed succeeded on a 503'), (err) => err);
    assert.equal(findError.name, 'AppError');
    assert.match(findError.message, /Connector error 503 \(not-configured\): This feature is not configured/);
    assert.equal(findError.message, completeError.message);
  });
});

// Last in this file: it leaves this connector's ledger without its table.
test('Find Event on the real connector\'s 500 raises it like Mark Event Completed does', async () => {
  breakLedger(connector);
  const input = { event_key: 'x:interview.completed' };
  const findError = await appTester(find, bundle(input)).then(
    () => assert.fail('Find Event returned a result for a 500'), (err) => err);
  const completeError = await appTester(complete, bundle(input)).then(
    () => assert.fail('Mark Event Completed succeeded on a 500'), (err) => err);
  assert.equal(findError.name, 'AppError');
  assert.match(findError.message, /Connector error 500 \(internal-error\)/);
  assert.equal(findError.message, completeError.message);
});
