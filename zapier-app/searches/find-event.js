'use strict';

const { getJson, eventPath } = require('../lib/connector');
const { flattenEntry, ENTRY_OUTPUT_FIELDS, ENTRY_SAMPLE, EVENT_KEY_INPUT } = require('../lib/ledger');
const { raiseForProblem } = require('../middleware');

// A search answers an unknown key (404) "not found" with an empty list. Every other
// non-2xx (502, 503, 500, …) is the same error any other step raises for that status.
const perform = async (z, bundle) => {
  const key = String(bundle.inputData.event_key).trim();
  const response = await getJson(z, bundle, eventPath(key), { skipThrowForStatus: true });
  if (response.status === 404) return [];
  raiseForProblem(response, z);
  return [flattenEntry(key, response.data)];
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
