'use strict';

const { getJson, eventPath } = require('../lib/connector');
const { flattenEntry, ENTRY_OUTPUT_FIELDS, ENTRY_SAMPLE, EVENT_KEY_INPUT } = require('../lib/ledger');
const { EVENT_RECORD, dataOf, notAConnector } = require('../lib/shapes');
const { raiseForProblem, problemOf, slugOf } = require('../middleware');

// Only the connector's own 404 problem (`not-found`) means "no such event": a web server
// that answers 404 on every path is not a connector, and "not found" would be a lie.
const isUnknownEvent = (response) => slugOf(problemOf(response)) === 'not-found';

// A search answers an unknown key (404) "not found" with an empty list. Every other
// non-2xx (502, 503, 500, …) is the same error any other step raises for that status.
const perform = async (z, bundle) => {
  const key = String(bundle.inputData.event_key).trim();
  const response = await getJson(z, bundle, eventPath(key), { skipThrowForStatus: true });
  if (response.status === 404) {
    if (isUnknownEvent(response)) return [];
    throw notAConnector(z, response, 'the connector\'s `not-found` problem');
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
