'use strict';

/**
 * A Connector URL that answers with a redirect (a 301/302/307/308 to another host, another
 * port, or from http:// to https://): no step follows it (lib/connector.js sends
 * `redirect: 'manual'`), nothing reaches the redirect's target (not the Koji body, not the
 * signature, not the API key), and every step says to set the Connector URL to the target,
 * showing only its scheme and host.
 */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { withServerAnswering } = require('./support/fake-server');
const { SAMPLE_PAYLOAD } = require('../lib/sample');
const { STEPS } = require('./support/steps');

const appTester = zapier.createAppTester(App);

const EMAIL = SAMPLE_PAYLOAD.data.respondent.email;


const bundle = (url, inputData) => ({ authData: { connector_url: url, api_key: 'ck_secret_key' }, inputData });

/** A connector URL answering `status` with a Location on `target` (a path and query included). */
const assertNoStepFollows = async (status, targetOf) => {
  await withServerAnswering(200, { 'Content-Type': 'application/json' }, '{}', async (targetUrl, target) => {
    const location = `${targetOf(targetUrl)}/elsewhere/v1/path?token=location-secret`;
    await withServerAnswering(status, { Location: location }, '', async (url, redirecting) => {
      for (const [name, perform, inputData] of STEPS) {
        await assert.rejects(appTester(perform, bundle(url, inputData)), (err) => {
          assert.equal(err.name, 'AppError', `${name} on ${status}: ${err.stack}`);
          const { message } = JSON.parse(err.message);
          assert.ok(message.startsWith(`The connector at ${url} answered ${status}, a redirect, which this app ` +
            'does not follow: set the Connector URL to the address it redirects to'), `${name}: ${message}`);
          assert.ok(message.includes(`(${new URL(location).origin})`), `${name} names the target: ${message}`);
          assert.ok(!message.includes('location-secret') && !message.includes('/elsewhere'),
            `${name}: the Location's path and query are not shown: ${message}`);
          assert.ok(!message.includes(EMAIL), `${name}: ${message}`);
          return true;
        }, `${name} on ${status} must fail`);
      }
      assert.equal(redirecting.requests.length, STEPS.length, 'every step asked the connector URL once');
    });
    assert.deepEqual(target.requests, [], `nothing reached the target of a ${status}`);
  });
};

test('a 307 or 308 to another port is refused: the body, signature and API key stay home', async () => {
  for (const status of [307, 308]) {
    await assertNoStepFollows(status, (targetUrl) => targetUrl);
  }
});

test('a 301 or 302 is refused, not turned into a GET to the target', async () => {
  for (const status of [301, 302]) {
    await assertNoStepFollows(status, (targetUrl) => targetUrl);
  }
});

// Before: the redirect to https:// failed as a rejected API key (ExpiredAuthError) or a
// TLS error, so the user changed a key that was right.
test('a redirect from http:// to https:// says to use the https:// address, not that the key expired', async () => {
  await assertNoStepFollows(308, (targetUrl) => targetUrl.replace('http://', 'https://'));
});
