'use strict';

/**
 * HTTP middleware: the API key goes on every request to the connector, and the
 * connector's RFC 9457 problems become Zapier errors a user can act on.
 *
 * Why not the platform default: a 401/403 would be shown as "reconnect your account"
 * for any failure, and every other problem as an opaque JSON dump.
 */

const { notAConnector } = require('./lib/shapes');

const addApiKey = (request, z, bundle) => {
  if (bundle.authData && bundle.authData.api_key) {
    request.headers = request.headers || {};
    request.headers.Authorization = `Bearer ${bundle.authData.api_key}`;
  }
  return request;
};

const problemOf = (response) => {
  try {
    const body = JSON.parse(response.content);
    return body && typeof body === 'object' ? body : {};
  } catch (err) {
    return {};
  }
};

const slugOf = (problem) => String(problem.type || '').split('#').pop();

const describe = (problem, status) => {
  const text = [...new Set([problem.title, problem.detail].filter(Boolean))].join(': ');
  const pointers = (problem.errors || [])
    .map((e) => `${e.pointer || '/'} ${e.message || ''}`.trim())
    .join('; ');
  return [text || `The connector answered HTTP ${status}`, pointers].filter(Boolean).join(' — ');
};

// Problems that pass on their own. ThrottledError lets Zapier retry the step itself after
// the delay (the connector's Retry-After) instead of failing the run for good.
const RETRY_LATER = {
  'event-in-progress':
    'Another run is processing this Koji event right now (event-in-progress). Retry later: ' +
    'the claim ends when that run marks the event completed, or after the lease expires.',
  'ledger-busy':
    'The connector\'s event ledger is busy (ledger-busy): another process holds its database. ' +
    'Nothing was claimed or changed. Retry later.',
  'upstream-unavailable':
    'Koji\'s API or Salesforce did not answer the connector usably (upstream-unavailable). ' +
    'Nothing was claimed or changed. Retry later.',
};
const DEFAULT_RETRY_SECONDS = 60;

// Retry-After is seconds or an HTTP date (RFC 9110, 10.2.3).
const retryAfterOf = (response) => {
  const value = String(response.getHeader('retry-after') || '').trim();
  if (/^\d+$/.test(value)) return parseInt(value, 10);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return DEFAULT_RETRY_SECONDS;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
};

/**
 * The Zapier error for a connector answer of 400 or more (any other is returned as is).
 * Every step's errors come from here: the middleware below, and a search that asked to see
 * statuses itself (`skipThrowForStatus`) and raises every status it does not handle.
 */
const raiseForProblem = (response, z) => {
  const { status } = response;
  if (status < 400) {
    return response;
  }
  const problem = problemOf(response);
  const slug = slugOf(problem) || `http-${status}`;
  const details = describe(problem, status);

  // Only the connector's own refusal means the key is wrong: a login proxy or another site in
  // front of it answers 401/403 too, and "reconnect" would send the user after the wrong thing.
  if ((status === 401 || status === 403) && slug !== 'unauthorized') {
    throw notAConnector(z, response, "the connector's problem+json refusal (unauthorized)");
  }
  if (status === 401 || status === 403) {
    throw new z.errors.ExpiredAuthError(
      `The connector rejected the API key (${details}). Check the API key in this connection ` +
        'against CONNECTOR_API_KEYS on the connector.',
    );
  }
  if (slug === 'invalid-signature') {
    throw new z.errors.Error(
      'The Koji webhook signature does not match this body (invalid-signature). Map "Raw Body" ' +
        'from Catch Raw Hook unchanged and the X-Koji-Signature header, and check that ' +
        `KOJI_WEBHOOK_SECRET on the connector is the secret Koji shows. ${details}`,
      'invalid_signature',
      status,
    );
  }
  // Any 409 of the steps' routes is a live claim (release's claim-superseded is not used here).
  const retrySlug = status === 409 ? 'event-in-progress' : slug;
  if (Object.hasOwn(RETRY_LATER, retrySlug)) {
    throw new z.errors.ThrottledError(`${RETRY_LATER[retrySlug]} ${details}`, retryAfterOf(response));
  }
  throw new z.errors.Error(`Connector error ${status} (${slug}): ${details}`, slug, status);
};

const throwForProblem = (response, z) => {
  // A step that asked to see statuses itself (a search's 404) still gets auth errors here;
  // it must pass every other status it does not handle to raiseForProblem.
  const { status } = response;
  if (response.request.skipThrowForStatus && status >= 400 && status !== 401 && status !== 403) {
    return response;
  }
  return raiseForProblem(response, z);
};

module.exports = {
  befores: [addApiKey],
  afters: [throwForProblem],
  raiseForProblem,
  problemOf,
  slugOf,
  RETRY_LATER,
};
