'use strict';

const { postJsonText } = require('../lib/connector');
const { raiseForProblem, problemOf, slugOf, isConnectorProblem } = require('../middleware');
const { flatten } = require('../lib/answer');
const { ANSWER, dataOf } = require('../lib/shapes');
const { answerOutputFields } = require('../lib/output-fields');
const { verifySample } = require('../lib/sample');

// The connector's default MAX_BODY_BYTES, which counts the whole envelope (connector/settings.py).
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The envelope (openapi.yaml, verify-envelope) as the JSON text to send. Both forms give the
 * connector the exact UTF-8 bytes of the mapped Raw Body: the text is sent as built
 * (`merge: false`, lib/connector.js), so no `{{…}}` is rendered, and JSON's string escapes
 * round-trip every well-formed string; the connector signs `raw_body.encode("utf-8")`, the
 * bytes Buffer.from(rawBody, 'utf8') encodes into base64.
 *
 * `raw_body_base64` stays the usual form (what every Zap has sent so far), but base64 makes the
 * body a third larger: from about 786 kB on, it would exceed the connector's default 1 MiB
 * and never verify. Then `raw_body` is sent instead, which grows only by the escapes of quotes,
 * backslashes and control characters. A body too large either way is still sent (a connector
 * may have a higher MAX_BODY_BYTES); its 413 becomes an error saying what to raise.
 */
const envelopeOf = (rawBody, signature) => {
  const base64 = JSON.stringify({ raw_body_base64: Buffer.from(rawBody, 'utf8').toString('base64'), signature });
  if (Buffer.byteLength(base64) <= DEFAULT_MAX_BODY_BYTES) return base64;
  const text = JSON.stringify({ raw_body: rawBody, signature });
  return Buffer.byteLength(text) < Buffer.byteLength(base64) ? text : base64;
};

const tooLarge = (z, rawBody, envelope) => {
  const bytes = (text) => Buffer.byteLength(text).toLocaleString('en-US');
  return new z.errors.Error(
    `The Koji webhook body is ${bytes(rawBody)} bytes; sent to the connector it is ${bytes(envelope)} ` +
      'bytes, more than the connector takes (payload-too-large). Raise MAX_BODY_BYTES on the connector ' +
      `to at least ${Buffer.byteLength(envelope)} (it counts the whole request; the default is ` +
      `${DEFAULT_MAX_BODY_BYTES}) and any body limit of a proxy in front of it, then replay the run.`,
    'payload_too_large',
    413,
  );
};

// The connector's malformed-json on verify-envelope is about the signed body inside the
// envelope (the app always sends a JSON envelope), which its detail calls by the envelope's
// name ("The body in raw_body_base64 is not valid JSON…"), a name the user never mapped.
const notJson = (z, response) => {
  const detail = String(problemOf(response).detail || '')
    .replace(/\b(?:body in raw_body_base64|raw_body)\b/g, 'Raw Body');
  return new z.errors.Error(
    `The webhook's Raw Body is not a JSON object (malformed-json)${detail ? `: ${detail}` : '.'} Its ` +
      'signature is valid, so it is what the sender signed: the connector takes only Koji\'s JSON ' +
      'events. Check that Raw Body is mapped from Catch Raw Hook\'s **Raw Body** and that the sender ' +
      'is Koji.',
    'malformed_json',
    400,
  );
};

const perform = async (z, bundle) => {
  const rawBody = String(bundle.inputData.raw_body === undefined ? '' : bundle.inputData.raw_body);
  const envelope = envelopeOf(rawBody, String(bundle.inputData.signature || '').trim());
  const response = await postJsonText(z, bundle, '/v1/koji/verify-envelope', envelope, { skipThrowForStatus: true });
  if (response.status === 413) throw tooLarge(z, rawBody, envelope);
  if (response.status === 400 && isConnectorProblem(problemOf(response)) &&
      slugOf(problemOf(response)) === 'malformed-json') {
    throw notJson(z, response);
  }
  raiseForProblem(response, z);
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
