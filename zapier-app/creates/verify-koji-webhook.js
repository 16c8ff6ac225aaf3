'use strict';

const { postJson } = require('../lib/connector');
const { flatten } = require('../lib/answer');
const { ANSWER, dataOf } = require('../lib/shapes');
const { answerOutputFields } = require('../lib/output-fields');
const { verifySample } = require('../lib/sample');

/**
 * The envelope route with base64: the body reaches the connector as the exact UTF-8
 * bytes of the mapped Raw Body, whatever braces, whitespace or unicode it holds.
 */
const perform = async (z, bundle) => {
  const rawBody = String(bundle.inputData.raw_body === undefined ? '' : bundle.inputData.raw_body);
  const response = await postJson(z, bundle, '/v1/koji/verify-envelope', {
    raw_body_base64: Buffer.from(rawBody, 'utf8').toString('base64'),
    signature: String(bundle.inputData.signature || '').trim(),
  });
  return flatten(dataOf(z, response, ANSWER));
};

module.exports = {
  key: 'verify_koji_webhook',
  noun: 'Koji Webhook',
  display: {
    label: 'Verify Koji Webhook',
    description:
      'Checks the signature of a Koji webhook caught by "Webhooks by Zapier – Catch Raw Hook" ' +
      'and returns the interview, the decision and the Salesforce and Slack values.',
  },
  operation: {
    perform,
    inputFields: [
      {
        key: 'raw_body',
        label: 'Raw Body',
        type: 'text',
        required: true,
        helpText:
          'Map **Raw Body** from the Catch Raw Hook trigger, unchanged. The signature covers ' +
          'these exact bytes: do not use "Catch Hook" (it re-parses the JSON).',
      },
      {
        key: 'signature',
        label: 'Signature',
        type: 'string',
        required: true,
        helpText:
          'Map the **X-Koji-Signature** header from Catch Raw Hook (shown as ' +
          '"Headers Http X Koji Signature"), `sha256=<hex>`.',
      },
    ],
    sample: verifySample,
    outputFields: answerOutputFields,
  },
};
