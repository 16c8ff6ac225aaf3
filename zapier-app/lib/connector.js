'use strict';

/**
 * Talking to the connector: its URL from the connection, and JSON requests that the
 * platform sends exactly as built (no {{curlies}} processing, no request template), to the
 * connector alone (no redirect is followed), within a deadline, with one clear error when it
 * cannot be reached.
 */

// Without a scheme (`koji.example.com`) the request would fail deep in the HTTP client
// with "Only HTTP(S) protocols are supported", which does not say what to change. The value
// is not repeated in the message: a user who swapped the two fields would see their API key.
const baseUrlOf = (z, bundle) => {
  const base = String(bundle.authData.connector_url || '').trim().replace(/\/+$/, '');
  let url = null;
  try {
    url = new URL(base);
  } catch (err) {
    // not a URL at all: same message as a wrong scheme
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new z.errors.Error(
      'The Connector URL of this connection is not a web address: it must start with https://, ' +
        'e.g. `https://koji-connector.example.com`. Edit the connection and fix its Connector URL ' +
        '(and check that the API Key is not in the Connector URL field).',
      'invalid_connector_url',
      400,
    );
  }
  // Zapier's servers reach the connector over the internet, so plain http:// would send the
  // API key and every interview (respondents' e-mails, their words) readable on the way.
  // Only a connector on this machine (`zapier invoke`, the tests) may be called without TLS.
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new z.errors.Error(
      'The Connector URL must start with https://: over http:// the API key and every interview ' +
        '(respondents\' e-mails) would cross the internet unencrypted. Put the connector behind ' +
        'HTTPS (a TLS proxy, see the connector\'s README) and edit the connection to use its ' +
        'https:// address.',
      'insecure_connector_url',
      400,
    );
  }
  return base;
};

// WHATWG URL hostnames: IPv4 is already in dotted form (`http://2130706433` reads as
// 127.0.0.1) and IPv6 keeps its brackets.
const isLoopback = (hostname) =>
  hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);

const connectorUrl = (z, bundle, path) => baseUrlOf(z, bundle) + path;

/** `scheme://host[:port]` of a URL: what an error may show of it (never a path or query). */
const originOf = (url) => {
  const { protocol, host } = new URL(url);
  return `${protocol}//${host}`;
};

// node-fetch's FetchError (a refused connection, a DNS failure, a reset, a TLS failure) and
// AbortError (the deadline below): anything else z.request throws is already a Zapier error.
const isNetworkError = (err) => err && (err.name === 'FetchError' || err.name === 'AbortError');

/**
 * How long a request may take, from connecting to the last byte of the answer. Zapier stops a
 * create or search after 30 s with its own "did not respond in time", which says nothing about
 * the connector; 25 s leaves the step time to raise this app's own error instead. The
 * connector's slowest normal answer is far shorter: its ledger waits up to 5 s for a lock and a
 * call to Koji's API lasts HTTP_TIMEOUT_SECONDS at most (default 5 s), so 25 s holds unless
 * HTTP_TIMEOUT_SECONDS is raised past about 15 s. An object, so a test can shorten it.
 */
const limits = { requestTimeoutMs: 25000 };

// Network failures that pass on their own: the connector restarting or being redeployed
// (refused, reset), a host or DNS resolver briefly away, no answer in time. ENOTFOUND (no such
// host name) and TLS failures are not among them: they need the Connector URL or the
// certificate fixed, and retrying would only delay the error.
const PASSING = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
]);

// The delay of a retry when nothing says how long to wait (middleware.js: no Retry-After).
const DEFAULT_RETRY_SECONDS = 60;

const reasonOf = (err, timedOut) =>
  timedOut
    ? `ETIMEDOUT (no answer within ${limits.requestTimeoutMs / 1000} s)`
    : err.code || err.type || err.name;

/**
 * A request that got no answer. In a step it is Zapier's ThrottledError when it may pass, as a
 * proxy's 502 is (middleware.js): Zapier's Catch Raw Hook has already answered Koji 200, so Koji
 * does not deliver again and only a retry of the step gets the event through. The connection
 * test (`retryIfUnreachable: false`) always fails at once: it is where a wrong URL shows.
 * Neither error is "contextified" (AppError and ThrottledError never are): the platform's
 * "What happened" section would otherwise add the bundle, i.e. the Koji body and the
 * respondent's e-mail.
 */
const unreachable = (z, err, url, { timedOut, retry }) => {
  const reason = reasonOf(err, timedOut);
  const cannot = `Could not reach the connector at ${originOf(url)}: ${reason}.`;
  if (retry && (timedOut || PASSING.has(reason))) {
    return new z.errors.ThrottledError(
      `${cannot} Retry later; if this lasts, check the Connector URL and that the connector is running.`,
      DEFAULT_RETRY_SECONDS,
    );
  }
  return new z.errors.Error(
    `${cannot} Check the Connector URL and that the connector is running.`,
    'connector_unreachable',
  );
};

/**
 * z.request to the connector. `redirect: 'manual'`: a redirect would re-send the body (a
 * respondent's e-mail), the signature and, to the same host, the API key to wherever the
 * Location points, and take that answer as the connector's; middleware.js turns any 3xx
 * into an error instead. `throwForThrottlingEarly: false`: without it the platform raises its
 * own ThrottledError for a 429 before middleware.js sees it, with the raw Retry-After
 * (0 retries at once in a loop, 864000 parks the run for ten days); middleware.js keeps it
 * within bounds. `retryIfUnreachable` is this app's (see unreachable), not sent.
 */
const send = async (z, bundle, path, { retryIfUnreachable = true, ...options }) => {
  const url = connectorUrl(z, bundle, path);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), limits.requestTimeoutMs);
  try {
    return await z.request({
      ...options, url, merge: false, redirect: 'manual', throwForThrottlingEarly: false, signal: controller.signal,
    });
  } catch (err) {
    if (isNetworkError(err)) {
      throw unreachable(z, err, url, { timedOut: controller.signal.aborted, retry: retryIfUnreachable });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
};

// merge: false keeps Zapier from rendering or rejecting `{{…}}` inside the body: a Koji
// quote that contains braces must reach the connector byte for byte. `text` is the JSON
// already serialized (Verify measures it before sending).
const postJsonText = (z, bundle, path, text, options = {}) =>
  send(z, bundle, path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: text,
    removeMissingValuesFrom: { params: false, body: false },
    ...options,
  });

const postJson = (z, bundle, path, payload, options = {}) =>
  postJsonText(z, bundle, path, JSON.stringify(payload), options);

const getJson = (z, bundle, path, options = {}) =>
  send(z, bundle, path, { method: 'GET', headers: { Accept: 'application/json' }, ...options });

const eventPath = (key, suffix = '') => `/v1/events/${encodeURIComponent(key)}${suffix}`;

module.exports = { connectorUrl, originOf, postJson, postJsonText, getJson, eventPath, limits, DEFAULT_RETRY_SECONDS };
