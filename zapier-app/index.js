'use strict';

const zapier = require('zapier-platform-core');

const authentication = require('./authentication');
const middleware = require('./middleware');
const verifyKojiWebhook = require('./creates/verify-koji-webhook');
const mapInterview = require('./creates/map-interview');
const markEventCompleted = require('./creates/mark-event-completed');
const findEvent = require('./searches/find-event');

module.exports = {
  version: require('./package.json').version,
  platformVersion: zapier.version,

  authentication,
  beforeRequest: middleware.befores,
  afterResponse: middleware.afters,

  triggers: {},
  searches: { [findEvent.key]: findEvent },
  creates: {
    [verifyKojiWebhook.key]: verifyKojiWebhook,
    [mapInterview.key]: mapInterview,
    [markEventCompleted.key]: markEventCompleted,
  },
  resources: {},
};
