'use strict';

/**
 * What README.md tells a Zap builder, checked against the app and the real connector: the
 * ledger state a skip leaves, the labels the Zap editor shows, the errors a run can show.
 */

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { RETRY_LATER, MIN_RETRY_SECONDS, MAX_RETRY_SECONDS } = require('../middleware');
const { useConnector, sign, authData } = require('./support/connector');
const { interviewEvent, rawBody } = require('./support/payloads');

const appTester = zapier.createAppTester(App);
const verify = App.creates.verify_koji_webhook.operation.perform;
const find = App.searches.find_event.operation.perform;
const dynamicFields = App.creates.verify_koji_webhook.operation.outputFields.find((f) => typeof f === 'function');

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

const connector = useConnector();

/** The README's table rows (cells, trimmed) whose first cell matches `first`. */
const rowsWhere = (first) =>
  README.split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()))
    .filter((cells) => first.test(cells[0]));

test('README Zap 1: the skips no path runs for are released by the connector, as the ledger says', async () => {
  const auth = authData(connector);
  const [row] = rowsWhere(/`skip` \/ `anonymous`, `not_mapped`/);
  assert.ok(row, 'the README has the row for anonymous / not_mapped');
  const endedBy = row[row.length - 1];
  for (const payload of [interviewEvent({ email: null }), interviewEvent({ type: 'interview.started' })]) {
    const body = rawBody(payload);
    const result = await appTester(verify, { authData: auth, inputData: { raw_body: body, signature: sign(body, connector.secret) } });
    const [entry] = await appTester(find, { authData: auth, inputData: { event_key: result.event_key } });
    assert.ok(endedBy.includes(`\`${entry.state}\``), `${result.skip_reason}: the README says "${endedBy}", the ledger ${entry.state}`);
  }
  assert.doesNotMatch(endedBy, /completed/, 'the connector does not complete these');
});

test('README: the sf__ fields are labelled as the Zap editor labels them', async () => {
  const [row] = rowsWhere(/^`sf__<ApiName>`$/);
  assert.ok(row, 'the README has the sf__ row');
  const fields = await appTester(dynamicFields, { authData: authData(connector), inputData: {} });
  const quote = fields.find((f) => f.key === 'sf__Latest_Customer_Quote__c');
  // The README's pattern, with the profile's label and API name put in.
  const pattern = row[1].replace(/`/g, '');
  assert.equal(pattern, 'Salesforce: <Label> (<ApiName>)');
  assert.equal(quote.label,
    pattern.replace('<Label>', 'Latest Customer Quote').replace('<ApiName>', 'Latest_Customer_Quote__c'));
  assert.ok(row[2].includes(quote.label), 'the example is a real label');
});

test('README: the error table lists every problem raised as "retry later"', () => {
  for (const slug of Object.keys(RETRY_LATER)) {
    const [row] = rowsWhere(new RegExp(`\`${slug}\``));
    assert.ok(row, `the error table has a row for ${slug}`);
    assert.match(row[1], /ThrottledError/, slug);
    assert.match(row[1], /Retry-After/, slug);
  }
});

test('README: the error table gives the bounds Retry-After is kept within, and the proxy\'s 502/503/504', () => {
  assert.equal(MIN_RETRY_SECONDS, 5);
  assert.equal(MAX_RETRY_SECONDS, 3600);
  const [proxy] = rowsWhere(/^502, 503 or 504 that is not a problem/);
  assert.ok(proxy, 'the error table has a row for a proxy\'s 502/503/504');
  assert.match(proxy[1], /ThrottledError/);
  assert.match(proxy[1], /5 s–1 h/);
  for (const first of [/^3xx/, /^\(no answer\)/, /^413 `payload-too-large`/]) {
    assert.ok(rowsWhere(first).length === 1, `the error table has a row for ${first}`);
  }
});

test('README: testing Verify in the Zap editor is said to claim the event', () => {
  const step = README.split('\n2. **Action: Koji Connector → Verify Koji Webhook.**')[1].split('\n3. ')[0];
  assert.match(step, /Testing this step in the Zap editor claims the event/);
  assert.match(step, /409/);
  assert.match(step, /ThrottledError/);
  assert.match(step, /`skip`\/`duplicate`/);
});
