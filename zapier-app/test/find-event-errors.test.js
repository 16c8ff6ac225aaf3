'use strict';

/**
 * "Find Event" when the connector answers an error: only 404 is "no result"; any other
 * non-2xx is the error every other step raises for it (middleware.js), never a found event.
 * This file's connector has its ledger broken on purpose, so it has a connector of its own.
 */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, breakLedger, authData } = require('./support/connector');
const { withServerAnswering, problem } = require('./support/fake-server');

const appTester = zapier.createAppTester(App);
const find = App.searches.find_event.operation.perform;
const complete = App.creates.mark_event_completed.operation.perform;

const connector = useConnector();

const bundle = (inputData, auth = {}) => ({ authData: authData(connector, auth), inputData });

/** Something in front of the connector (a reverse proxy) that answers every request `status`. */
const withProxyAnswering = (status, contentType, body, fn) =>
  withServerAnswering(status, { 'Content-Type': contentType }, body, fn);

test('Find Event with a wrong API key is an authentication error, not a result', async () => {
  await assert.rejects(appTester(find, bundle({ event_key: 'x:interview.completed' }, { api_key: 'ck_wrong' })),
    (err) => err.name === 'ExpiredAuthError' && /API key/.test(err.message));
});

test('Find Event behind a proxy answering 502 says retry later, not a found event', async () => {
  await withProxyAnswering(502, 'text/html', '<html><body>Bad Gateway</body></html>', async (url) => {
    await assert.rejects(appTester(find, bundle({ event_key: 'x:interview.completed' }, { connector_url: url })),
      (err) => {
        assert.equal(err.name, 'ThrottledError');
        assert.match(err.message, /The connector or a proxy in front of it is not answering now/);
        return true;
      });
  });
});

// The connector answers `not-found` for a path no route matches too (a Connector URL with a
// path in it): that is not "no such event". Before, Find Event answered no result.
test('Find Event on the connector\'s no-route 404 (a Connector URL with a path) is an error, not "no result"', async () => {
  await assert.rejects(appTester(find, bundle({ event_key: 'x:interview.completed' }, { connector_url: `${connector.url}/koji` })),
    (err) => {
      assert.equal(err.name, 'AppError', err.stack);
      const { message } = JSON.parse(err.message);
      assert.match(message, /^The connector has no route for GET \/koji\/v1\/events\/x%3Ainterview\.completed/);
      assert.match(message, /base URL with no path/);
      return true;
    });
});

test('Find Event raises a 503 problem+json as the same error Mark Event Completed raises', async () => {
  const body = problem(503, 'not-configured', 'This feature is not configured', 'The ledger is not available.');
  await withProxyAnswering(503, 'application/problem+json', body, async (url) => {
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

// Only the connector's own `not-found` problem is "no such event": a web server answering
// 404 on every path (the Connector URL names a site, not the connector) is an error.
test('Find Event on a web server answering 404 everywhere is "not a Koji connector", not "no result"', async () => {
  await withProxyAnswering(404, 'text/html', '<html><body>Not Found</body></html>', async (url) => {
    await assert.rejects(appTester(find, bundle({ event_key: 'x:interview.completed' }, { connector_url: url })),
      (err) => {
        assert.equal(err.name, 'AppError');
        assert.match(err.message, /did not answer like a Koji connector/);
        assert.match(err.message, /GET \/v1\/events\/x%3Ainterview\.completed answered HTTP 404 \(text\/html\)/);
        return true;
      });
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
