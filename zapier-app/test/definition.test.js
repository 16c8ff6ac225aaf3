'use strict';

/** The app definition itself: schema and functional checks, samples, labels, pins. */

const assert = require('node:assert/strict');
const { test } = require('node:test');
const schema = require('zapier-platform-schema');

const App = require('../index');
const pkg = require('../package.json');
const { flatten, SF_PREFIX, DEFAULT_SALESFORCE_FIELDS } = require('../lib/answer');

// What `zapier-platform build` writes to definition.json: functions become `$func$N$f$`.
const serialized = JSON.parse(
  JSON.stringify(App, (key, value) => (typeof value === 'function' ? `$func$${value.length}$f$` : value)),
);

const visibleActions = () =>
  ['creates', 'searches', 'triggers'].flatMap((kind) =>
    Object.values(App[kind] || {})
      .filter((action) => !(action.display && action.display.hidden))
      .map((action) => [`${kind}.${action.key}`, action]),
  );

test('validateAppDefinition finds no errors', () => {
  const { errors } = schema.validateAppDefinition(serialized);
  assert.deepEqual(errors.map((e) => `${e.property} ${e.message}`), []);
});

test('zapier-platform-core is pinned exactly and is the platform version', () => {
  assert.match(pkg.dependencies['zapier-platform-core'], /^\d+\.\d+\.\d+$/);
  assert.equal(App.platformVersion, pkg.dependencies['zapier-platform-core']);
  assert.equal(pkg.devDependencies['zapier-platform-schema'], pkg.dependencies['zapier-platform-core']);
});

test('the API key is a password field and the connection has a test and a label', () => {
  const fields = Object.fromEntries(App.authentication.fields.map((f) => [f.key, f]));
  assert.equal(fields.api_key.type, 'password');
  assert.equal(fields.connector_url.required, true);
  assert.equal(typeof App.authentication.test, 'function');
  assert.match(App.authentication.connectionLabel, /connector_host/);
});

for (const [name, action] of visibleActions()) {
  test(`${name} has a label, a description, a sample and output fields`, () => {
    assert.ok(action.display.label && action.display.description.length > 20);
    const { sample, outputFields, inputFields } = action.operation;
    assert.ok(sample && Object.keys(sample).length > 0, 'sample');
    assert.ok(Array.isArray(outputFields) && outputFields.length > 0, 'outputFields');
    const declared = new Set(outputFields.filter((f) => typeof f === 'object').map((f) => f.key));
    for (const key of Object.keys(sample)) {
      assert.ok(declared.has(key) || key.startsWith(SF_PREFIX), `sample key ${key} has an output field`);
    }
    for (const field of outputFields.filter((f) => typeof f === 'object')) {
      assert.ok(field.label, `output field ${field.key} has a label`);
    }
    for (const field of inputFields) {
      assert.ok(field.label && field.helpText && field.helpText.length > 10, `input ${field.key} help`);
    }
  });
}

test('flatten: booleans for Filter steps are the text "true"/"false"', () => {
  const update = flatten({ action: 'update_contact', slack: { post: true } });
  assert.equal(update.should_update, 'true');
  assert.equal(update.should_notify, 'true');
  const skip = flatten({ action: 'skip', skip_reason: 'anonymous', slack: { post: false } });
  assert.equal(skip.should_update, 'false');
  assert.equal(skip.should_notify, 'false');
  const notify = flatten({ action: 'notify', slack: { post: true } });
  assert.equal(notify.should_update, 'false');
  assert.equal(notify.should_notify, 'true');
});

test('flatten: Should Post to Slack is the connector\'s slack.post, also for a skip worth telling', () => {
  for (const skipReason of ['below_quality_threshold', 'failed_quality_gate']) {
    const told = flatten({ action: 'skip', skip_reason: skipReason, slack: { post: true } });
    assert.equal(told.should_update, 'false', skipReason);
    assert.equal(told.should_notify, 'true', skipReason);
  }
  const label = App.creates.verify_koji_webhook.operation.outputFields.find((f) => f.key === 'should_notify');
  assert.match(label.label, /Should Post to Slack/);
});

test('flatten: any Salesforce field becomes sf__<ApiName>, lists are joined', () => {
  const flat = flatten({
    action: 'update_contact',
    analysis: { themes: ['a', 'b'] },
    salesforce: { fields: { Custom_Field__c: 'x', Interview_Quality_Score__c: 4, Multi__c: ['p', 'q'] } },
  });
  assert.equal(flat.sf__Custom_Field__c, 'x');
  assert.equal(flat.sf__Interview_Quality_Score__c, 4);
  assert.equal(flat.sf__Multi__c, 'p, q');
  assert.equal(flat.themes, 'a, b');
  assert.equal(flat.salesforce_field_names, 'Custom_Field__c, Interview_Quality_Score__c, Multi__c');
  assert.deepEqual(JSON.parse(flat.salesforce_fields_json).Multi__c, ['p', 'q']);
});

test('the samples carry the default six Salesforce fields', () => {
  const { sample } = App.creates.verify_koji_webhook.operation;
  for (const name of DEFAULT_SALESFORCE_FIELDS) {
    assert.ok(`${SF_PREFIX}${name}` in sample, name);
  }
  assert.equal(App.creates.map_interview.operation.sample.delivery_status, null);
});
