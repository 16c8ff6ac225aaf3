'use strict';

/**
 * What the connector's answers look like (openapi.yaml), checked before a step reads one.
 *
 * Any web server answers 200 somewhere: a Connector URL that names a plain site or a login
 * proxy (text/html on every path) would pass the connection test, then Mark Event Completed
 * and Find Event would "succeed" with empty output and Verify and Map would fail with a
 * TypeError. Every step checks its answer here, so a wrong URL gets one message everywhere.
 * Only the fields the app relies on are checked: a newer connector may add others.
 */

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

// GET /v1/salesforce/fields (FieldList): the connection test and the dynamic output fields.
const FIELD_LIST = {
  what: 'the field list of GET /v1/salesforce/fields (sobject, lookup_order, fields)',
  fits: (body) =>
    isObject(body) && typeof body.sobject === 'string' && Array.isArray(body.lookup_order) &&
    Array.isArray(body.fields),
};

// Verify's and Map's Answer: the decision, the event and the Salesforce values, all required.
const ANSWER = {
  what: 'an answer with action, event and salesforce.fields',
  fits: (body) =>
    isObject(body) && typeof body.action === 'string' && isObject(body.event) &&
    isObject(body.salesforce) && isObject(body.salesforce.fields),
};

// /v1/events/{key} and …/complete (EventRecord).
const EVENT_RECORD = {
  what: 'a ledger entry with a state',
  fits: (body) => isObject(body) && typeof body.state === 'string',
};

const notAConnector = (z, response, what) => {
  const type = response.getHeader('content-type') || 'no content type';
  const { pathname } = new URL(response.request.url);
  return new z.errors.Error(
    `The Connector URL did not answer like a Koji connector: ${response.request.method} ${pathname} ` +
      `answered HTTP ${response.status} (${type}) without ${what}. Check the Connector URL of this ` +
      'connection: it must be the base URL of the Koji connector itself (e.g. ' +
      '`https://koji-connector.example.com`), not a web site or a login page; a TLS proxy in front of the ' +
      'connector must pass its /v1/ requests and answers through as they are.',
    'not_a_koji_connector',
    response.status,
  );
};

// The connector answers its `not-found` problem for a path no route matches too
// (connector/errors.py, NotFound.no_route): a Connector URL with a path, or a connector too old
// for the route. Only the detail tells it from "no such event", and it always starts the same way.
const NO_ROUTE = /^No route matches /;

const isNoRoute = (problem) => NO_ROUTE.test(String((problem && problem.detail) || ''));

const noRoute = (z, response) =>
  new z.errors.Error(
    `The connector has no route for ${response.request.method} ${new URL(response.request.url).pathname} ` +
      '(not-found: "No route matches"). Check that the Connector URL of this connection is the ' +
      'connector\'s base URL with no path (e.g. `https://koji-connector.example.com`) and that the ' +
      'connector is up to date.',
    'no_route',
    404,
  );

/** The answer's JSON when it has the shape; otherwise the "not a Koji connector" error. */
const dataOf = (z, response, shape) => {
  if (shape.fits(response.data)) return response.data;
  throw notAConnector(z, response, shape.what);
};

module.exports = { FIELD_LIST, ANSWER, EVENT_RECORD, dataOf, notAConnector, noRoute, isNoRoute };
