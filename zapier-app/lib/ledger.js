'use strict';

/** A ledger entry of the connector (`/v1/events/{key}`…) as flat fields. */

const { problemOf, slugOf, isConnectorProblem } = require('../middleware');
const { isNoRoute } = require('./shapes');

const flattenEntry = (key, body) => {
  const flat = { id: key, event_key: key };
  for (const [name, value] of Object.entries(body || {})) {
    if (name === 'key') continue;
    flat[name] = value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
  }
  return flat;
};

const ENTRY_OUTPUT_FIELDS = [
  { key: 'id', label: 'ID (event key)', type: 'string' },
  { key: 'event_key', label: 'Event Key', type: 'string' },
  { key: 'state', label: 'State (claimed, completed or released)', type: 'string' },
  { key: 'attempts', label: 'Attempts', type: 'integer' },
  { key: 'first_seen', label: 'First Seen', type: 'datetime' },
  { key: 'updated', label: 'Updated', type: 'datetime' },
  { key: 'lease_until', label: 'Lease Until (while claimed; empty otherwise)', type: 'datetime' },
];

const ENTRY_SAMPLE = {
  id: 'f8e7d6c5-b4a3-2109-8765-432109876543:interview.analysis_ready',
  event_key: 'f8e7d6c5-b4a3-2109-8765-432109876543:interview.analysis_ready',
  state: 'completed',
  attempts: 1,
  first_seen: '2025-01-15T10:26:16Z',
  updated: '2025-01-15T10:26:19Z',
  lease_until: null,
};

const EVENT_KEY_INPUT = {
  key: 'event_key',
  label: 'Event Key',
  type: 'string',
  required: true,
  helpText:
    'Map **Event Key** from the "Verify Koji Webhook" step, e.g. `<interview id>:interview.analysis_ready`.',
};

// A key that is empty would ask for /v1/events//complete, and "." or ".." are path segments
// the URL is normalized on (even percent-encoded): ".." turns /v1/events/../complete into
// POST /v1/complete. None of them is a key the connector ever gives, so they are refused here.
const DOT_SEGMENTS = ['.', '..'];

/** The mapped Event Key, trimmed, or a step error naming the field. */
const eventKeyOf = (z, inputData) => {
  const given = inputData.event_key;
  const key = given === undefined || given === null ? '' : String(given).trim();
  if (key === '' || DOT_SEGMENTS.includes(key)) {
    throw new z.errors.Error(
      `"${EVENT_KEY_INPUT.label}" is ${key ? `"${key}", which` : 'empty: it'} is not an event key. ` +
        'Map **Event Key** from the "Verify Koji Webhook" step (e.g. ' +
        '`<interview id>:interview.analysis_ready`); in a test run, check that the step it comes from ' +
        'has output.',
      'invalid_event_key',
      400,
    );
  }
  return key;
};

/**
 * The connector's own 404 `not-found` for an event key: the event is not in the ledger. Not a
 * web server's 404 page (no connector problem) and not the connector's 404 for a path no route
 * matches (a Connector URL with a path): raiseForProblem gives those their own error.
 */
const isUnknownEvent = (response) => {
  if (response.status !== 404) return false;
  const problem = problemOf(response);
  return isConnectorProblem(problem) && slugOf(problem) === 'not-found' && !isNoRoute(problem);
};

module.exports = { flattenEntry, eventKeyOf, isUnknownEvent, ENTRY_OUTPUT_FIELDS, ENTRY_SAMPLE, EVENT_KEY_INPUT };
