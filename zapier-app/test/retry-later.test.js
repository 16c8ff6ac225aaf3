'use strict';

/**
 * Connector problems that pass on their own (docs/problems.md): 409 event-in-progress,
 * 503 ledger-busy (with Retry-After) and 502 upstream-unavailable are Zapier's
 * ThrottledError, so Zapier may retry the step after the delay instead of failing the run;
 * so is a 502/503/504 or Cloudflare's 520-524 without a problem body (a proxy's page while the
 * connector is away), and a rate limiter's 429. The delay is Retry-After kept between 5 s and
 * 1 h. Any other 5xx problem of the connector stays a plain step error (find-event-errors.test.js).
 */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, lockLedger, sign, authData } = require('./support/connector');
const { withServerAnswering, problem } = require('./support/fake-server');
const { interviewEvent, rawBody } = require('./support/payloads');

const appTester = zapier.createAppTester(App);
const verify = App.creates.verify_koji_webhook.operation.perform;
const map = App.creates.map_interview.operation.perform;
const complete = App.creates.mark_event_completed.operation.perform;
const find = App.searches.find_event.operation.perform;

const connector = useConnector();

// ThrottledError carries {message, delay} as JSON in its message.
const throttled = (err) => {
  assert.equal(err.name, 'ThrottledError', err.stack);
  return JSON.parse(err.message);
};

const STEPS = [
  ['Verify Koji Webhook', verify, { raw_body: '{}', signature: `sha256=${'0'.repeat(64)}` }],
  ['Map Interview', map, { payload_json: '{"type": "interview.analysis_ready", "data": {}}' }],
  ['Mark Event Completed', complete, { event_key: 'x:interview.completed' }],
  ['Find Event', find, { event_key: 'x:interview.completed' }],
];

const assertEveryStepRetries = async (status, headers, body, expect) => {
  const allHeaders = { 'Content-Type': 'application/problem+json', ...headers };
  await withServerAnswering(status, allHeaders, body, async (url) => {
    for (const [name, perform, inputData] of STEPS) {
      const bundle = { authData: { connector_url: url, api_key: 'ck_any' }, inputData };
      await assert.rejects(appTester(perform, bundle), (err) => {
        expect(throttled(err), name);
        return true;
      }, `${name} must raise ThrottledError`);
    }
  });
};

// The ledger's two 503s: [slug, title, detail, the advice the message gives, the detail kept].
const LEDGER_REFUSALS = [
  ['ledger-busy', 'Event ledger busy',
    'The event ledger\'s database stayed locked for 5 s (another process holds it: a backup, a sqlite3 ' +
    'shell?); nothing was changed. Try again later.', /Retry later/, /stayed locked/],
  ['ledger-unavailable', 'Event ledger unavailable',
    'The event ledger\'s database cannot be used now (database or disk is full); nothing was changed. ' +
    'Try again later.', /DATABASE_PATH/, /disk is full/],
];

for (const [slug, title, detail, advice, kept] of LEDGER_REFUSALS) {
  test(`503 ${slug} is a ThrottledError with the connector's Retry-After, in every step`, async () => {
    const body = problem(503, slug, title, detail);
    await assertEveryStepRetries(503, { 'Retry-After': '30' }, body, ({ message, delay }, name) => {
      assert.equal(delay, 30, name);
      assert.match(message, new RegExp(slug), name);
      assert.match(message, advice, name);
      assert.match(message, kept, `${name}: the connector's detail is kept`);
    });
  });
}

test('502 upstream-unavailable is a ThrottledError, 60 s without Retry-After', async () => {
  const body = problem(502, 'upstream-unavailable', 'An upstream API did not answer usably',
    'Koji\'s API did not answer within 10 s.');
  await assertEveryStepRetries(502, {}, body, ({ message, delay }, name) => {
    assert.equal(delay, 60, name);
    assert.match(message, /upstream-unavailable/, name);
    assert.match(message, /Retry later/, name);
    assert.match(message, /did not answer within 10 s/, name);
  });
});

test('Retry-After as an HTTP date is the seconds until then', async () => {
  const body = problem(503, 'ledger-busy', 'Event ledger busy', 'Try again later.');
  const inTwoMinutes = new Date(Date.now() + 120000).toUTCString();
  await assertEveryStepRetries(503, { 'Retry-After': inTwoMinutes }, body, ({ delay }, name) => {
    assert.ok(delay > 100 && delay <= 120, `${name}: ${delay}`);
  });
});

// Before: "Connector error 502 (http-502)", a plain step error, though the connector was
// only restarting behind its proxy.
test('a proxy\'s HTML 502, 503 or 504 (no problem body) is a ThrottledError, in every step', async () => {
  const page = '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>';
  for (const status of [502, 503, 504]) {
    for (const [contentType, body] of [['text/html', page], ['text/plain', ''], ['application/json', '{"message": "x"}']]) {
      await assertEveryStepRetries(status, { 'Content-Type': contentType }, body, ({ message, delay }, name) => {
        assert.equal(delay, 60, name);
        assert.equal(message, 'The connector or a proxy in front of it is not answering now. Retry later; ' +
          `if this lasts, check that the connector is running. (HTTP ${status})`, `${name} on ${status} ${contentType}`);
      });
    }
  }
});

// Cloudflare's "origin down" pages (520 unknown, 521 down, 522 connection timed out, 523
// unreachable, 524 timeout), in front of a connector that restarts. Before: "Connector error 521
// (http-521)", a plain step error.
test('Cloudflare\'s 520-524 (no problem body) are a ThrottledError, in every step', async () => {
  const page = '<!DOCTYPE html><html><head><title>Web server is down | Cloudflare</title></head></html>';
  for (const status of [520, 521, 522, 523, 524]) {
    await assertEveryStepRetries(status, { 'Content-Type': 'text/html; charset=UTF-8' }, page, ({ message, delay }, name) => {
      assert.equal(delay, 60, `${name} on ${status}`);
      assert.match(message, new RegExp(`^The connector or a proxy in front of it is not answering now\\. .*\\(HTTP ${status}\\)$`),
        `${name} on ${status}`);
    });
  }
});

// The connector never answers 429; a rate limiter in front of it does. zapier-platform-core
// raises its own ThrottledError for a 429 before the app's middleware, with the raw Retry-After
// (before: delay 0 or 864000, and null for an HTTP date); the app asks it not to.
test('a 429 from a rate limiter in front of the connector keeps Retry-After within 5 s-1 h, in every step and the connection test', async () => {
  const steps = [['the connection test', App.authentication.test, {}], ...STEPS];
  const inADay = new Date(Date.now() + 24 * 3600 * 1000).toUTCString();
  for (const [retryAfter, expected] of [['0', 5], ['864000', 3600], [inADay, 3600], [null, 60]]) {
    const headers = { 'Content-Type': 'text/html', ...(retryAfter === null ? {} : { 'Retry-After': retryAfter }) };
    await withServerAnswering(429, headers, '<html><body>Too Many Requests</body></html>', async (url) => {
      for (const [name, perform, inputData] of steps) {
        await assert.rejects(appTester(perform, { authData: { connector_url: url, api_key: 'ck_any' }, inputData }), (err) => {
          const { message, delay } = throttled(err);
          assert.equal(delay, expected, `${name} with Retry-After ${retryAfter}`);
          assert.match(message, /^The connector or a proxy in front of it refuses more requests for now \(429 Too Many Requests\)\. Retry later\.$/,
            name);
          return true;
        }, `${name} must raise ThrottledError`);
      }
    });
  }
});

test('Retry-After is kept between 5 s and 1 h', async () => {
  const body = problem(503, 'ledger-busy', 'Event ledger busy', 'Try again later.');
  const cases = [
    ['0', 5], ['4', 5], ['5', 5], ['3600', 3600], ['864000', 3600],
    [new Date(Date.now() - 60000).toUTCString(), 5],
    [new Date(Date.now() + 10 * 24 * 3600 * 1000).toUTCString(), 3600],
  ];
  for (const [retryAfter, expected] of cases) {
    await assertEveryStepRetries(503, { 'Retry-After': retryAfter }, body, ({ delay }, name) => {
      assert.equal(delay, expected, `${name} with Retry-After ${retryAfter}`);
    });
  }
});

// The real thing: another process holds the ledger's SQLite lock, the connector waits 5 s
// and answers 503 ledger-busy with its Retry-After; nothing is changed.
test('the real connector\'s ledger-busy is a ThrottledError with its Retry-After', async () => {
  const body = rawBody(interviewEvent());
  const auth = authData(connector);
  const verified = await appTester(verify, { authData: auth, inputData: { raw_body: body, signature: sign(body, connector.secret) } });
  const release = await lockLedger(connector);
  try {
    await assert.rejects(appTester(complete, { authData: auth, inputData: { event_key: verified.event_key } }),
      (err) => {
        const { message, delay } = throttled(err);
        assert.equal(delay, 30);
        assert.match(message, /ledger-busy/);
        return true;
      });
  } finally {
    await release();
  }
  const [entry] = await appTester(find, { authData: auth, inputData: { event_key: verified.event_key } });
  assert.equal(entry.state, 'claimed', 'nothing was changed');
  const completed = await appTester(complete, { authData: auth, inputData: { event_key: verified.event_key } });
  assert.equal(completed.state, 'completed', 'the retry works once the lock is gone');
});
