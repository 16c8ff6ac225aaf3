'use strict';

/**
 * Talking to the connector: its URL from the connection, and JSON requests that the
 * platform sends exactly as built (no {{curlies}} processing, no request template).
 */

const connectorUrl = (bundle, path) => {
  const base = String(bundle.authData.connector_url || '').trim().replace(/\/+$/, '');
  return base + path;
};

// merge: false keeps Zapier from rendering or rejecting `{{…}}` inside the body: a Koji
// quote that contains braces must reach the connector byte for byte.
const postJson = (z, bundle, path, payload) =>
  z.request({
    method: 'POST',
    url: connectorUrl(bundle, path),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(payload),
    merge: false,
    removeMissingValuesFrom: { params: false, body: false },
  });

const getJson = (z, bundle, path, options = {}) =>
  z.request({
    method: 'GET',
    url: connectorUrl(bundle, path),
    headers: { Accept: 'application/json' },
    merge: false,
    ...options,
  });

const eventPath = (key, suffix = '') => `/v1/events/${encodeURIComponent(key)}${suffix}`;

module.exports = { connectorUrl, postJson, getJson, eventPath };
