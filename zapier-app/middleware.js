'use strict';

/**
 * HTTP middleware: the API key goes on every request to the connector, and the
 * connector's RFC 9457 problems become Zapier errors a user can act on.
 *
 * Why not the platform default: a 401/403 would be shown as "reconnect your account"
 * for any failure, and every other problem as an opaque JSON dump.
 */

const { notAConnector, noRoute, isNoRoute } = require('./lib/shapes');
const { originOf, DEFAULT_RETRY_SECONDS } = require('./lib/connector');

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

// Every refusal of the connector is problem+json whose `type` is a section of its
// docs/problems.md (connector/errors.py, PROBLEM_BASE). An error answer without one comes
// from something else: a web site or file server the Connector URL names by mistake, or a
// proxy in front of the connector.
const CONNECTOR_PROBLEM_TYPE = /\/problems\.md#[a-z0-9-]+$/;
const isConnectorProblem = (problem) => CONNECTOR_PROBLEM_TYPE.test(String(problem.type || ''));

// An entry points into the body (`pointer`) or names a query parameter (`parameter`).
const whereOf = (entry) => {
  if (entry.pointer) return entry.pointer;
  if (entry.parameter) return `parameter "${entry.parameter}"`;
  return '/';
};

const describe = (problem, status) => {
  const text = [...new Set([problem.title, problem.detail].filter(Boolean))].join(': ');
  const pointers = (problem.errors || [])
    .map((e) => `${whereOf(e)} ${e.message || ''}`.trim())
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
  'ledger-unavailable':
    'The connector\'s event ledger cannot be written now (ledger-unavailable: read-only, disk full…). ' +
    'Nothing was claimed or changed. Retry later; the connector\'s operator has to fix its DATABASE_PATH.',
  'upstream-unavailable':
    'Koji\'s API or Salesforce did not answer the connector usably (upstream-unavailable). ' +
    'Nothing was claimed or changed. Retry later.',
};
// A 502/503/504 without the connector's problem body comes from something in front of it (a
// reverse proxy, a load balancer) while the connector restarts or is overloaded: it passes too.
// So do Cloudflare's 520-524 (the origin is down, refused or timed out), a common front for a
// self-hosted connector.
const PROXY_UNAVAILABLE = [502, 503, 504, 520, 521, 522, 523, 524];
// What a web site or a file server answers for a path it does not have, or a method it does
// not take: an answer with one of these and no connector problem means a wrong Connector URL.
const NOT_FOUND_ON_A_WEB_SITE = [404, 405, 410, 501];
const PROXY_RETRY_LATER =
  'The connector or a proxy in front of it is not answering now. Retry later; if this lasts, ' +
  'check that the connector is running.';
// The connector never answers 429; a rate limiter in front of it (a proxy, an API gateway) does.
const RATE_LIMITED =
  'The connector or a proxy in front of it refuses more requests for now (429 Too Many Requests). ' +
  'Retry later.';
// Retry-After is used within these bounds: 0 would have Zapier retry at once, in a loop, and
// 864000 (ten days) would park the run; an hour is already longer than any lease or lock.
const MIN_RETRY_SECONDS = 5;
const MAX_RETRY_SECONDS = 3600;

const clampDelay = (seconds) => Math.min(MAX_RETRY_SECONDS, Math.max(MIN_RETRY_SECONDS, seconds));

// Retry-After is seconds or an HTTP date (RFC 9110, 10.2.3).
const retryAfterOf = (response) => {
  const value = String(response.getHeader('retry-after') || '').trim();
  if (/^\d+$/.test(value)) return clampDelay(parseInt(value, 10));
  const date = Date.parse(value);
  if (Number.isNaN(date)) return DEFAULT_RETRY_SECONDS;
  return clampDelay(Math.ceil((date - Date.now()) / 1000));
};

/**
 * The Zapier error for a connector answer of 400 or more (any other is returned as is).
 * Every step's errors come from here: the middleware below, and a step that asked to see
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

  if (status === 429) {
    throw new z.errors.ThrottledError(RATE_LIMITED, retryAfterOf(response));
  }
  if (PROXY_UNAVAILABLE.includes(status) && !isConnectorProblem(problem)) {
    throw new z.errors.ThrottledError(`${PROXY_RETRY_LATER} (HTTP ${status})`, retryAfterOf(response));
  }
  // Only the connector's own refusal means the key is wrong: a login proxy or another site in
  // front of it answers 401/403 too, and "reconnect" would send the user after the wrong thing.
  if ((status === 401 || status === 403) && slug !== 'unauthorized') {
    throw notAConnector(z, response, "the connector's problem+json refusal (unauthorized)");
  }
  // Any other error answer that is not the connector's problem. A web site's or file server's
  // 404, 405, 410 or 501 page for a /v1/ path: the Connector URL names something else.
  // "Connector error 404" would say the connector answered, and send the user looking in the
  // wrong place. Any other status (a proxy's own 400, 408, 413 or 500 page) may come from the
  // TLS proxy in front of a connector whose URL is right: both are named.
  if (!isConnectorProblem(problem)) {
    if (NOT_FOUND_ON_A_WEB_SITE.includes(status)) {
      throw notAConnector(z, response, "the connector's problem+json error");
    }
    const type = response.getHeader('content-type') || 'no content type';
    throw new z.errors.Error(
      `The connector or a proxy in front of it answered HTTP ${status} (${type}) without the connector's ` +
        "problem+json error: look in the proxy's log for this request, and check that the Connector URL is " +
        "the Koji connector's base URL.",
      `http-${status}`,
      status,
    );
  }
  // The connector's own 404 for a path no route matches: a Connector URL with a path.
  if (isNoRoute(problem)) throw noRoute(z, response);
  if (status === 401 || status === 403) {
    const error = new z.errors.ExpiredAuthError(
      `The connector rejected the API key (${details}). Check the API key in this connection ` +
        'against CONNECTOR_API_KEYS on the connector.',
    );
    // Unlike AppError, ExpiredAuthError is "contextified": the platform would append the
    // bundle (the Koji body, the respondent's e-mail) to the message.
    error.doNotContextify = true;
    throw error;
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
    // The connector's 409 detail asks its caller to "answer non-2xx so Koji retries": right for
    // n8n, wrong behind Catch Raw Hook, which has answered Koji 200 already. The app's sentence
    // says the same in Zapier's terms, so the detail is left out.
    const kept = retrySlug === 'event-in-progress' ? '' : ` ${details}`;
    throw new z.errors.ThrottledError(`${RETRY_LATER[retrySlug]}${kept}`, retryAfterOf(response));
  }
  throw new z.errors.Error(`Connector error ${status} (${slug}): ${details}`, slug, status);
};

// Requests go out with `redirect: 'manual'` (lib/connector.js), so a redirect arrives here.
// Only the target's scheme and host are shown: its path or query may carry anything.
const refuseRedirect = (response, z) => {
  const { status } = response;
  if (status < 300 || status >= 400) return response;
  const location = response.getHeader('location');
  let target = '';
  try {
    if (location) target = ` (${originOf(new URL(location, response.request.url).href)})`;
  } catch (err) {
    // not a URL: the message does without it
  }
  throw new z.errors.Error(
    `The connector at ${originOf(response.request.url)} answered ${status}, a redirect, which this ` +
      `app does not follow: set the Connector URL to the address it redirects to${target}.`,
    'connector_redirect',
    status,
  );
};

const throwForProblem = (response, z) => {
  // A step that asked to see statuses itself (an unknown event's 404, Verify's 413 and
  // malformed-json) still gets auth errors here;
  // it must pass every other status it does not handle to raiseForProblem.
  const { status } = response;
  if (response.request.skipThrowForStatus && status >= 400 && status !== 401 && status !== 403) {
    return response;
  }
  return raiseForProblem(response, z);
};

module.exports = {
  befores: [addApiKey],
  afters: [refuseRedirect, throwForProblem],
  raiseForProblem,
  problemOf,
  slugOf,
  describe,
  isConnectorProblem,
  RETRY_LATER,
  PROXY_UNAVAILABLE,
  MIN_RETRY_SECONDS,
  MAX_RETRY_SECONDS,
};
