'use strict';

const { postJson, eventPath } = require('../lib/connector');
const {
  flattenEntry, eventKeyOf, isUnknownEvent, ENTRY_OUTPUT_FIELDS, ENTRY_SAMPLE, EVENT_KEY_INPUT,
} = require('../lib/ledger');
const { EVENT_RECORD, dataOf } = require('../lib/shapes');
const { raiseForProblem, problemOf, describe } = require('../middleware');

// The key is not repeated (a mis-mapped field may hold anything). Every key the connector
// gives ends with `:<event type>`: one without it is most likely the Interview ID, mapped instead.
const unknownEvent = (z, response, key) => {
  const hint = key.includes(':')
    ? ''
    : ' The mapped value has no `:<event type>` part, which every event key has: is it the Interview ID?';
  // The connector's detail ends with a full stop; inside the parentheses it would read "…window).)."
  const why = describe(problemOf(response), 404).replace(/\.$/, '');
  return new z.errors.Error(
    `The connector's ledger has no event with this Event Key (not-found: ${why}).${hint} ` +
      'Map **Event Key** from the "Verify Koji Webhook" step of the same run ' +
      '(`<interview id>:<event type>`, e.g. `…:interview.analysis_ready`).',
    'unknown_event',
    404,
  );
};

const perform = async (z, bundle) => {
  const key = eventKeyOf(z, bundle.inputData);
  const response = await postJson(z, bundle, eventPath(key, '/complete'), {}, { skipThrowForStatus: true });
  if (isUnknownEvent(response)) throw unknownEvent(z, response, key);
  raiseForProblem(response, z);
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
