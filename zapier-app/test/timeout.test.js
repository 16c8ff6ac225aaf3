'use strict';

/**
 * A connector (or a proxy in front of it) that accepts the connection and never answers, or
 * stops half-way through its answer: every request has a deadline (lib/connector.js, 25 s,
 * below Zapier's 30 s), then the README's "Could not reach the connector … ETIMEDOUT" error;
 * in a step it is "retry later" (ThrottledError), in the connection test an error. Here the
 * deadline is shortened so the test takes a second, not 25.
 */

const assert = require('node:assert/strict');
const net = require('node:net');
const { test, before, after } = require('node:test');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { limits } = require('../lib/connector');
const { STEPS } = require('./support/steps');

const appTester = zapier.createAppTester(App);

const DEADLINE_MS = 300;
// Without a deadline a step would wait for ever (Zapier would kill it at 30 s with its own
// message): the test gives up long before, and says why.
const GIVE_UP_MS = 5000;

let saved;
before(() => {
  saved = limits.requestTimeoutMs;
  limits.requestTimeoutMs = DEADLINE_MS;
});
after(() => {
  limits.requestTimeoutMs = saved;
});

/** `fn(url)` with a TCP server that accepts every connection and, after `prefix`, says nothing. */
const withSilentServer = async (prefix, fn) => {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      if (prefix) socket.write(prefix);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
};

const orGiveUp = (promise, name) => {
  let timer;
  const giveUp = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no error after ${GIVE_UP_MS} ms: the request has no timeout`)),
      GIVE_UP_MS);
  });
  return Promise.race([promise, giveUp]).finally(() => clearTimeout(timer));
};

const assertEveryStepTimesOut = async (prefix) => {
  await withSilentServer(prefix, async (url) => {
    const reason = `Could not reach the connector at ${url}: ETIMEDOUT \\(no answer within ${DEADLINE_MS / 1000} s\\)\\.`;
    for (const [name, perform, inputData] of STEPS) {
      const started = Date.now();
      const bundle = { authData: { connector_url: url, api_key: 'ck_any' }, inputData };
      await assert.rejects(orGiveUp(appTester(perform, bundle), name), (err) => {
        if (name === 'the connection test') {
          assert.equal(err.name, 'AppError', `${name}: ${err.stack}`);
          assert.match(JSON.parse(err.message).message,
            new RegExp(`^${reason} Check the Connector URL and that the connector is running\\.$`), name);
        } else {
          assert.equal(err.name, 'ThrottledError', `${name}: ${err.stack}`);
          const { message, delay } = JSON.parse(err.message);
          assert.match(message, new RegExp(`^${reason} Retry later`), name);
          assert.equal(delay, 60, name);
        }
        return true;
      }, `${name} must fail`);
      assert.ok(Date.now() - started < DEADLINE_MS + 2000, `${name} took ${Date.now() - started} ms`);
    }
  });
};

test('a connector that accepts the connection and never answers times out in every step', async () => {
  await assertEveryStepTimesOut(null);
});

// The deadline covers the whole answer, not only its first line: a proxy that sends the
// status line and headers and then stalls is cut off too.
test('an answer that stops after its headers times out in every step', async () => {
  await assertEveryStepTimesOut('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ac');
});

test('the deadline is below Zapier\'s 30 s limit for an action', () => {
  assert.equal(saved, 25000);
});
