'use strict';

const { getJson, eventPath } = require('../lib/connector');
const { flattenEntry, eventKeyOf, ENTRY_OUTPUT_FIELDS, ENTRY_SAMPLE, EVENT_KEY_INPUT } = require('../lib/ledger');
const { EVENT_RECORD, dataOf, notAConnector } = require('../lib/shapes');
const { raiseForProblem, problemOf, slugOf } = require('../middleware');

// Only the connector's own 404 problem (`not-found`) means "no such event": a web server
// that answers 404 on every path is not a connector, and "not found" would be a lie. The
// connector answers `not-found` for a path no route matches too (connector/errors.py,
// NotFound.no_route: a Connector URL with a path, a connector too old for this route); only
// the detail tells that one apart, and it always starts the same way.
const NO_ROUTE = /^No route matches /;

const isNoRoute = (problem) => NO_ROUTE.test(String(problem.detail || ''));

const noRoute = (z, response) =>
  new z.errors.Error(
    `The connector has no route for ${response.request.method} ${new URL(response.request.url).pathname} ` +
      '(not-found: "No route matches"), so it could not look the event up. Check that the ' +
      'Connector URL is the connector\'s base URL with no path (e.g. `https://koji-connector.example.com`) ' +
      'and that the connector is up to date.',
    'no_route',
    404,
  );

// A search answers an unknown key (404) "not found" with an empty list. Every other
// non-2xx (502, 503, 500, …) is the same error any other step raises for that status.
const perform = async (z, bundle) => {
  const key = eventKeyOf(z, bundle.inputData);
  const response = await getJson(z, bundle, eventPath(key), { skipThrowForStatus: true });
  if (response.status === 404) {
    const problem = problemOf(response);
    if (slugOf(problem) !== 'not-found') {
      throw notAConnector(z, response, 'the connector\'s `not-found` problem');
    }
    if (isNoRoute(problem)) throw noRoute(z, response);
    return [];
  }
  raiseForProblem(response, z);
  return [flattenEntry(key, dataOf(z, response, EVENT_RECORD))];
};

module.exports = {
  key: 'find_event',
  noun: 'Event',
  display: {
    label: 'Find Event',
    description: 'Looks up whether the connector has seen a Koji event and whether it was completed.',
  },
  operation: {
    perform,
    inputFields: [EVENT_KEY_INPUT],
    sample: ENTRY_SAMPLE,
    outputFields: ENTRY_OUTPUT_FIELDS,
  },
};
