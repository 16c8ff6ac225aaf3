'use strict';

/**
 * Verify and the connector's MAX_BODY_BYTES (default 1 MiB), which counts the whole envelope.
 * base64 makes a body a third larger, so from about 786 kB on the usual `raw_body_base64`
 * envelope cannot fit: Verify then sends `raw_body` (the text itself) and the body still
 * verifies byte for byte. A body too large either way gets a 413 that says what to raise.
 */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { useConnector, startConnector, sign, authData } = require('./support/connector');
const { interviewEvent, rawBody, BRACES_QUOTE } = require('./support/payloads');

const appTester = zapier.createAppTester(App);
const verify = App.creates.verify_koji_webhook.operation.perform;

const connector = useConnector();

const MIB = 1024 * 1024;

/** A signed Koji body of `size` bytes: a real event padded with JSON whitespace (still signed). */
const bodyOf = (size) => {
  const head = rawBody(interviewEvent());
  const tail = '\r\n\t \n';
  return head + ' '.repeat(size - Buffer.byteLength(head) - tail.length) + tail;
};

const run = (target, body) =>
  appTester(verify, { authData: authData(target), inputData: { raw_body: body, signature: sign(body, target.secret) } });

test('a body of 900 kB, too large for the base64 envelope, still verifies byte for byte', async () => {
  const body = bodyOf(900 * 1000);
  assert.ok(Buffer.byteLength(body, 'utf8') * 4 / 3 > MIB, 'its base64 alone is over 1 MiB');
  const result = await run(connector, body);
  assert.equal(result.action, 'update_contact');
  assert.equal(result.quote, BRACES_QUOTE, 'braces and non-ASCII arrive unaltered');
});

test('a body over MAX_BODY_BYTES says to raise MAX_BODY_BYTES on the connector, to how much', async () => {
  const body = bodyOf(1100 * 1000);
  await assert.rejects(run(connector, body), (err) => {
    assert.equal(err.name, 'AppError', err.stack);
    const { message } = JSON.parse(err.message);
    const [, needed] = message.match(/Raise MAX_BODY_BYTES on the connector to at least (\d+) /) || [];
    assert.ok(needed, message);
    assert.ok(Number(needed) > MIB && Number(needed) < Buffer.byteLength(body) * 1.01, message);
    assert.match(message, /^The Koji webhook body is 1,100,000 bytes/);
    return true;
  });
});

test('a connector with MAX_BODY_BYTES raised as the message says takes that body', async () => {
  const big = await startConnector({ MAX_BODY_BYTES: String(2 * MIB) });
  try {
    const result = await run(big, bodyOf(1100 * 1000));
    assert.equal(result.action, 'update_contact');
  } finally {
    await big.stop();
  }
});
