'use strict';

const { getJson, eventPath } = require('../lib/connector');
const {
  flattenEntry, eventKeyOf, isUnknownEvent, ENTRY_OUTPUT_FIELDS, ENTRY_SAMPLE, EVENT_KEY_INPUT,
} = require('../lib/ledger');
const { EVENT_RECORD, dataOf } = require('../lib/shapes');
const { raiseForProblem } = require('../middleware');

// A search answers an unknown key (404) "not found" with an empty list. Every other
// non-2xx (502, 503, 500, …) is the same error any other step raises for that status.
const perform = async (z, bundle) => {
  const key = eventKeyOf(z, bundle.inputData);
  const response = await getJson(z, bundle, eventPath(key), { skipThrowForStatus: true });
  if (isUnknownEvent(response)) return [];
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
