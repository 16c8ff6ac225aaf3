'use strict';

const { OUTPUT_FIELDS, DEFAULT_SALESFORCE_FIELDS, SF_PREFIX, fieldNamesOf, salesforceFieldOutput } =
  require('./answer');
const { getJson } = require('./connector');

/**
 * Output fields of the answer: the fixed columns, then one `sf__<ApiName>` per target
 * field of the connector's active mapping profile (GET /v1/salesforce/fields). If the
 * connector cannot be asked (editor offline, old connector), the default six stand in.
 */
const salesforceOutputFields = async (z, bundle) => {
  let names = DEFAULT_SALESFORCE_FIELDS;
  try {
    const response = await getJson(z, bundle, '/v1/salesforce/fields');
    const found = fieldNamesOf(response.data);
    if (found.length) names = found;
  } catch (err) {
    z.console.log(`Using the default Salesforce fields: ${err.message}`);
  }
  return names.map(salesforceFieldOutput);
};

const STATIC_OUTPUT_FIELDS = OUTPUT_FIELDS.filter((f) => !f.key.startsWith(SF_PREFIX));

module.exports = {
  answerOutputFields: [...STATIC_OUTPUT_FIELDS, salesforceOutputFields],
  salesforceOutputFields,
};
