'use strict';

/**
 * Talking to the connector: its URL from the connection, and JSON requests that the
 * platform sends exactly as built (no {{curlies}} processing, no request template), to the
 * connector alone (no redirect is followed), with one clear error when it cannot be reached.
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

// node-fetch's FetchError (a refused connection, a DNS failure, a reset, a timeout, a TLS
// failure) and AbortError: anything else z.request throws is already a Zapier error.
const isNetworkError = (err) => err && (err.name === 'FetchError' || err.name === 'AbortError');

// An AppError (z.errors.Error) is never "contextified": the platform's "What happened"
// section would otherwise add the bundle, i.e. the Koji body and the respondent's e-mail.
const unreachable = (z, err, url) =>
  new z.errors.Error(
    `Could not reach the connector at ${originOf(url)}: ${err.code || err.type || err.name}. ` +
      'Check the Connector URL and that the connector is running.',
    'connector_unreachable',
  );

/**
 * z.request to the connector. `redirect: 'manual'`: a redirect would re-send the body (a
 * respondent's e-mail), the signature and, to the same host, the API key to wherever the
 * Location points, and take that answer as the connector's; middleware.js turns any 3xx
 * into an error instead.
 */
const send = async (z, bundle, path, options) => {
  const url = connectorUrl(z, bundle, path);
  try {
    return await z.request({ ...options, url, merge: false, redirect: 'manual' });
  } catch (err) {
    if (isNetworkError(err)) throw unreachable(z, err, url);
    throw err;
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

const postJson = (z, bundle, path, payload) => postJsonText(z, bundle, path, JSON.stringify(payload));

const getJson = (z, bundle, path, options = {}) =>
  send(z, bundle, path, { method: 'GET', headers: { Accept: 'application/json' }, ...options });

const eventPath = (key, suffix = '') => `/v1/events/${encodeURIComponent(key)}${suffix}`;

module.exports = { connectorUrl, originOf, postJson, postJsonText, getJson, eventPath };
