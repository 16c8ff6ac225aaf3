'use strict';

/**
 * Talking to the connector: its URL from the connection, and JSON requests that the
 * platform sends exactly as built (no {{curlies}} processing, no request template).
 */

// Without a scheme (`koji.example.com`) the request would fail deep in the HTTP client
// with "Only HTTP(S) protocols are supported", which does not say what to change.
const baseUrlOf = (z, bundle) => {
  const base = String(bundle.authData.connector_url || '').trim().replace(/\/+$/, '');
  let protocol = null;
  try {
    protocol = new URL(base).protocol;
  } catch (err) {
    // not a URL at all: same message as a wrong scheme
  }
  if (protocol !== 'https:' && protocol !== 'http:') {
    const example = /^[a-z][a-z0-9+.-]*:\/\//i.test(base) || !base
      ? 'https://koji-connector.example.com'
      : `https://${base}`;
    throw new z.errors.Error(
      `The Connector URL "${base}" is not a web address: include https://, e.g. \`${example}\`. ` +
        'Edit the connection and fix its Connector URL.',
      'invalid_connector_url',
      400,
    );
  }
  return base;
};

const connectorUrl = (z, bundle, path) => baseUrlOf(z, bundle) + path;

// merge: false keeps Zapier from rendering or rejecting `{{…}}` inside the body: a Koji
// quote that contains braces must reach the connector byte for byte.
const postJson = (z, bundle, path, payload) =>
  z.request({
    method: 'POST',
    url: connectorUrl(z, bundle, path),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(payload),
    merge: false,
    removeMissingValuesFrom: { params: false, body: false },
  });

const getJson = (z, bundle, path, options = {}) =>
  z.request({
    method: 'GET',
    url: connectorUrl(z, bundle, path),
    headers: { Accept: 'application/json' },
    merge: false,
    ...options,
  });

const eventPath = (key, suffix = '') => `/v1/events/${encodeURIComponent(key)}${suffix}`;

module.exports = { connectorUrl, postJson, getJson, eventPath };
