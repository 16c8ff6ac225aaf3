'use strict';

const { OUTPUT_FIELDS, SF_PREFIX, salesforceOutputFieldsOf } = require('./answer');
const { getJson } = require('./connector');
const { FIELD_LIST, dataOf } = require('./shapes');

/**
 * Output fields of the answer: the fixed columns, then one `sf__<ApiName>` per target
 * field of the connector's active mapping profile (GET /v1/salesforce/fields). If the
 * connector cannot be asked (editor offline, old connector), the default six stand in.
 */
const STATIC_OUTPUT_FIELDS = OUTPUT_FIELDS.filter((f) => !f.key.startsWith(SF_PREFIX));
const DEFAULT_SF_OUTPUT_FIELDS = OUTPUT_FIELDS.filter((f) => f.key.startsWith(SF_PREFIX));

const salesforceOutputFields = async (z, bundle) => {
  try {
    const response = await getJson(z, bundle, '/v1/salesforce/fields');
    const found = salesforceOutputFieldsOf(dataOf(z, response, FIELD_LIST));
    if (found.length) return found;
  } catch (err) {
    z.console.log(`Using the default Salesforce fields: ${err.message}`);
  }
  return DEFAULT_SF_OUTPUT_FIELDS;
};

module.exports = {
  answerOutputFields: [...STATIC_OUTPUT_FIELDS, salesforceOutputFields],
  salesforceOutputFields,
};
