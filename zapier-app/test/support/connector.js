'use strict';

/**
 * The real connector under gunicorn on 127.0.0.1, for the tests of this app.
 *
 * Needs a Python with the connector installed (`pip install -e .[test]` at the repo
 * root): CONNECTOR_PYTHON names it, else `python3` on PATH.
 */

const { spawn, spawnSync } = require('node:child_process');
const { before, after } = require('node:test');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const python = process.env.CONNECTOR_PYTHON || 'python3';
const STARTUP_TIMEOUT_MS = 30000;

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// A timer that does not keep the test process alive once everything else is done.
const deadline = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

const waitForHealth = async (url, child, output) => {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`gunicorn exited with ${child.exitCode} before serving:\n${output()}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return response.json();
    } catch (err) {
      // not listening yet
    }
    await sleep(150);
  }
  throw new Error(`the connector did not answer /healthz within ${STARTUP_TIMEOUT_MS} ms:\n${output()}`);
};

/** Start gunicorn; resolves to {url, secret, apiKey, health, databasePath, stop()}. */
const startConnector = async (extraEnv = {}) => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'koji-zapier-test-'));
  const secret = `whsec_test_${crypto.randomBytes(12).toString('hex')}`;
  const apiKey = `ck_test_${crypto.randomBytes(12).toString('hex')}`;
  const databasePath = extraEnv.DATABASE_PATH || path.join(dir, 'ledger.sqlite3');
  const child = spawn(
    python,
    ['-m', 'gunicorn', '--bind', `127.0.0.1:${port}`, '--workers', '1', 'connector:create_app()'],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        CONNECTOR_MODE: 'production',
        KOJI_WEBHOOK_SECRET: secret,
        CONNECTOR_API_KEYS: apiKey,
        DATABASE_PATH: databasePath,
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  const collect = (chunk) => {
    log = (log + chunk.toString()).slice(-20000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, deadline(10000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const health = await waitForHealth(url, child, () => log);
    return { url, secret, apiKey, health, databasePath, stop, log: () => log };
  } catch (err) {
    await stop();
    throw err;
  }
};

/**
 * Break a running connector's ledger (drop its table) with the connector's own Python, so
 * every ledger route answers the connector's real 500 problem (`internal-error`).
 */
const breakLedger = (connector) => {
  const drop = 'import sqlite3, sys\n' +
    'db = sqlite3.connect(sys.argv[1], timeout=10)\n' +
    'db.execute("DROP TABLE events")\n' +
    'db.commit()\n';
  const result = spawnSync(python, ['-c', drop, connector.databasePath], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`could not drop the ledger table: ${result.error || result.stderr}`);
  }
};

/**
 * Hold a running connector's ledger locked from another process (as a backup or a sqlite3
 * shell would), so a write waits and the connector answers 503 ledger-busy. Resolves, once
 * the lock is held, to an async function that lets go of it.
 */
const lockLedger = async (connector) => {
  const hold = 'import sqlite3, sys\n' +
    'db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)\n' +
    'db.execute("BEGIN EXCLUSIVE")\n' +
    'print("locked", flush=True)\n' +
    'sys.stdin.read()\n' +
    'db.execute("ROLLBACK")\n';
  const child = spawn(python, ['-c', hold, connector.databasePath], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk.toString();
      if (output.includes('locked')) resolve();
    });
    child.stderr.on('data', (chunk) => {
      output += chunk.toString();
    });
    exited.then((code) => reject(new Error(`could not lock the ledger (exit ${code}): ${output}`)));
  });
  return async () => {
    child.stdin.end();
    await Promise.race([exited, deadline(10000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
};

/** Koji's signature header value for a body: `sha256=` + HMAC-SHA256 hex. */
const sign = (body, secret) =>
  `sha256=${crypto.createHmac('sha256', secret).update(Buffer.from(body, 'utf8')).digest('hex')}`;

const authData = (connector, overrides = {}) => ({
  connector_url: connector.url,
  api_key: connector.apiKey,
  ...overrides,
});

/** One connector for the test file: started before its tests, stopped after them. */
const useConnector = (extraEnv) => {
  const connector = {};
  before(async () => {
    Object.assign(connector, await startConnector(extraEnv));
  });
  after(async () => {
    if (connector.stop) await connector.stop();
  });
  return connector;
};

module.exports = { startConnector, useConnector, breakLedger, lockLedger, sign, authData, REPO_ROOT };
