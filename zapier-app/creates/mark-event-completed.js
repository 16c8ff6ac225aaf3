'use strict';

const { postJson, eventPath } = require('../lib/connector');
const { flattenEntry, eventKeyOf, ENTRY_OUTPUT_FIELDS, ENTRY_SAMPLE, EVENT_KEY_INPUT } = require('../lib/ledger');
const { EVENT_RECORD, dataOf } = require('../lib/shapes');

const perform = async (z, bundle) => {
  const key = eventKeyOf(z, bundle.inputData);
  const response = await postJson(z, bundle, eventPath(key, '/complete'), {});
  return flattenEntry(key, dataOf(z, response, EVENT_RECORD));
};

module.exports = {
  key: 'mark_event_completed',
  noun: 'Event',
  display: {
    label: 'Mark Event Completed',
    description:
      'Tells the connector this Koji event was fully handled (put it after the Salesforce and ' +
      'Slack steps), so a replayed Zap or a repeated delivery is answered as a duplicate.',
  },
  operation: {
    perform,
    inputFields: [EVENT_KEY_INPUT],
    sample: ENTRY_SAMPLE,
    outputFields: ENTRY_OUTPUT_FIELDS,
  },
};
