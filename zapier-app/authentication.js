'use strict';

const { connectorUrl, getJson } = require('./lib/connector');
const { FIELD_LIST, dataOf } = require('./lib/shapes');

// The fields route needs the API key, so it proves both the URL and the key; its shape
// proves the URL is the connector, not any server that answers 200. A connector it cannot
// reach is an error here, not "retry later" as in the steps: this is where a wrong URL shows.
const test = async (z, bundle) => {
  const response = await getJson(z, bundle, '/v1/salesforce/fields', { retryIfUnreachable: false });
  const host = new URL(connectorUrl(z, bundle, '/')).host;
  return { connector_host: host, fields: dataOf(z, response, FIELD_LIST) };
};

module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'connector_url',
      label: 'Connector URL',
      type: 'string',
      required: true,
      helpText:
        'Base URL of your self-hosted Koji connector, e.g. `https://koji-connector.example.com` ' +
        '(no path). Zapier must be able to reach it over HTTPS. An `http://` address is refused ' +
          '(it would send the API key and every interview unencrypted), except on this machine ' +
          '(`localhost`, `127.x.x.x`, `[::1]`) for local testing.',
    },
    {
      key: 'api_key',
      label: 'API Key',
      type: 'password',
      required: true,
      helpText: 'One of the keys in the connector\'s `CONNECTOR_API_KEYS` setting.',
    },
  ],
  test,
  // Zapier shows the app's name next to every connection: the host alone tells them apart.
  connectionLabel: '{{bundle.inputData.connector_host}}',
};
