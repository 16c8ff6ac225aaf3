'use strict';

/** Every step of the app, with inputs that would work against a connector. */

const App = require('../../index');
const { SAMPLE_PAYLOAD } = require('../../lib/sample');

const STEPS = [
  ['the connection test', App.authentication.test, {}],
  ['Verify Koji Webhook', App.creates.verify_koji_webhook.operation.perform,
    { raw_body: JSON.stringify(SAMPLE_PAYLOAD), signature: `sha256=${'0'.repeat(64)}` }],
  ['Map Interview', App.creates.map_interview.operation.perform, { payload_json: JSON.stringify(SAMPLE_PAYLOAD) }],
  ['Mark Event Completed', App.creates.mark_event_completed.operation.perform, { event_key: 'x:interview.completed' }],
  ['Find Event', App.searches.find_event.operation.perform, { event_key: 'x:interview.completed' }],
];

module.exports = { STEPS };
