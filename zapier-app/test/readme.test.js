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
const { RETRY_LATER, MIN_RETRY_SECONDS, MAX_RETRY_SECONDS, PROXY_UNAVAILABLE } = require('../middleware');
const { limits } = require('../lib/connector');
const { OUTPUT_FIELDS } = require('../lib/answer');
const { useConnector, sign, authData } = require('./support/connector');
const { interviewEvent, rawBody } = require('./support/payloads');

const appTester = zapier.createAppTester(App);
const verify = App.creates.verify_koji_webhook.operation.perform;
const find = App.searches.find_event.operation.perform;
const map = App.creates.map_interview.operation.perform;
const dynamicFields = App.creates.verify_koji_webhook.operation.outputFields.find((f) => typeof f === 'function');

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const SAMPLES = path.join(__dirname, '..', '..', 'connector', 'samples');

/** The README's text from the line starting with `from` up to the next line starting with `to`. */
const section = (from, to) => README.split(`\n${from}`)[1].split(`\n${to}`)[0];

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

// Before, the output table said "Should Update Salesforce" where the Zap editor shows
// 'Should Update Salesforce ("true"/"false")': a user matching by label did not find it.
test('README: the output table\'s labels are the labels the Zap editor shows', () => {
  const labelOf = Object.fromEntries(OUTPUT_FIELDS.map((f) => [f.key, f.label]));
  let checked = 0;
  const table = section('### Output of Verify and Map', 'With the default mapping profile');
  for (const [first, label] of rowsWhere(/^`[a-z_]+`( \(= `id`\)|(, `[a-z_]+`)+)?$/)) {
    if (!label || !table.includes(`| ${first} | ${label} |`)) continue;
    // One key, one label (which may hold a comma); or a list of keys and as many labels.
    const keys = [...first.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).filter((k) => k !== 'id');
    const labels = keys.length === 1 ? [label] : label.split(', ');
    assert.equal(labels.length, keys.length, `one label per key: ${first}`);
    keys.forEach((key, i) => assert.equal(labels[i], labelOf[key], `the README's label of ${key}`));
    checked += keys.length;
  }
  assert.ok(checked >= 10, `${checked} labels checked`);
  for (const key of ['should_update', 'should_notify']) {
    assert.ok(section('3. **Paths by Zapier**', '   **Path A:**').includes(`*${labelOf[key]}*`), key);
  }
});

test('README: the request deadline, the proxy statuses and the 429 in the error table are the app\'s', () => {
  const [noAnswer] = rowsWhere(/^\(no answer\)/);
  const seconds = limits.requestTimeoutMs / 1000;
  assert.ok(seconds < 30, 'below Zapier\'s 30 s limit for an action');
  assert.match(noAnswer[0], new RegExp(`no answer within ${seconds} s`));
  assert.match(noAnswer[1], new RegExp(`ETIMEDOUT \\(no answer within ${seconds} s\\)`));
  assert.match(noAnswer[1], /ThrottledError/);
  assert.match(noAnswer[1], /`ENOTFOUND`\), a TLS failure, and anything in the connection test fail at once/);
  const [proxy] = rowsWhere(/^502, 503 or 504/);
  assert.deepEqual(PROXY_UNAVAILABLE, [502, 503, 504, 520, 521, 522, 523, 524]);
  assert.match(proxy[0], /520–524/);
  const [tooMany] = rowsWhere(/^429/);
  assert.ok(tooMany, 'the error table has a row for 429');
  assert.match(tooMany[1], /ThrottledError/);
  assert.match(tooMany[1], /5 s–1 h/);
});

// Koji's documented webhook payload has no e-mail: without enrichment, every interview is
// `anonymous` and no path runs, silently. The README says so where the user subscribes.
test('README Zap 1: Koji\'s webhook-setup payload is anonymous without KOJI_ENRICH, as step 1 says', async () => {
  const step = section('1. **Trigger: Webhooks by Zapier → Catch Raw Hook.**', '2. ');
  assert.match(step, /`KOJI_ENRICH=true` and `KOJI_API_KEY`/);
  assert.match(step, /`skip`\/`anonymous`/);
  const body = fs.readFileSync(path.join(SAMPLES, 'webhook-setup.analysis_ready.json'), 'utf8');
  const result = await appTester(verify, { authData: authData(connector), inputData: { raw_body: body, signature: sign(body, connector.secret) } });
  assert.deepEqual([result.action, result.skip_reason, result.should_update, result.should_notify],
    ['skip', 'anonymous', 'false', 'false']);
  assert.match(README, /\*\*Turn on Autoreplay\*\*/);
});

// Before: a Filter before Update Record, which stops the whole run (no Slack post, the event
// never completed), and dropped every update of an event with no time.
test('README Zap 1: Path A has no Filter, every branch ends with Mark Event Completed, an event with no time writes', async () => {
  const pathA = section('   **Path A:**', '   **Path B:**');
  assert.doesNotMatch(pathA, /Filter/);
  const branches = pathA.split('\n      - ').slice(1).map((b) => b.split('\n\n')[0]);
  assert.deepEqual(branches.map((b) => b.match(/^\*\*([^*]+)\*\*/)[1]),
    ['Write', 'Keep the newer', 'No Contact', 'Try the fallback']);
  for (const branch of branches) assert.match(branch, /\*\*Mark Event Completed\*\*/, branch.slice(0, 40));
  // What each branch posts, by the labels it maps into Slack's Message Text and Blocks. Before,
  // *Keep the newer* (nothing written) posted Slack Text: "Salesforce Contact updated".
  const keyOf = Object.fromEntries(OUTPUT_FIELDS.map((f) => [f.label, f.key]));
  const posts = (branch, field) => [...branch.replace(/\s+/g, ' ').matchAll(new RegExp(`\\*${field}\\* ← \\*\\*([^*]+)\\*\\*`, 'g'))]
    .map((m) => keyOf[m[1]] || `unknown label "${m[1]}"`);
  assert.deepEqual(branches.map((b) => posts(b, 'Message Text')),
    [['slack_text'], ['slack_kept_newer_text'], ['slack_contact_not_found_text'], ['slack_contact_not_found_text']]);
  assert.deepEqual(branches.map((b) => posts(b, 'Blocks')),
    [['slack_blocks_json'], ['slack_kept_newer_blocks_json'], [], []]);
  assert.match(branches[3].replace(/\s+/g, ' '), /\*Write\* and \*Keep the newer\* as above/);
  // …and the connector's real messages say what each branch did.
  const found = await appTester(map, {
    authData: authData(connector),
    inputData: { interview_id: 'readme-branches', respondent_email: 'x@y.example', quality_score: '4', quote: 'hello',
      completed_at: '2026-04-16T10:22:55Z' },
  });
  const [write, keep, none] = branches.map((b) => found[posts(b, 'Message Text')[0]]);
  assert.match(write, /Salesforce Contact updated/);
  assert.match(keep, /^:information_source: Not written \(the Contact holds a later interview\)/);
  assert.doesNotMatch(keep, /updated/);
  assert.match(none, /No Salesforce Contact/);
  assert.match(branches[0], /\*found\* and \*event's time\*\s+does not exist/);
  // An event with no time has no Keep-Newer Value: the Write branch's rule above takes it.
  const noTime = await appTester(map, {
    authData: authData(connector),
    inputData: { interview_id: 'readme-no-time', respondent_email: 'x@y.example', quality_score: '4', quote: 'hello' },
  });
  assert.equal(noTime.action, 'update_contact');
  assert.equal(noTime.keep_newer_value, null);
  const labels = Object.fromEntries(OUTPUT_FIELDS.map((f) => [f.key, f.label]));
  for (const key of ['keep_newer_value', 'fallback_lookup_field', 'fallback_lookup_value', 'lookup_field', 'lookup_value']) {
    assert.ok(pathA.replace(/\s+/g, ' ').includes(`**${labels[key]}**`), `Path A names ${labels[key]}`);
  }
});
