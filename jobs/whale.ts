// MOD-002 whale trades: quality stage, then every trade above the whale threshold becomes a row and an alert.

import { defineJob } from 'coattail';
import { prepareFeatures } from './modules/prepare-features.js';
import { qualityStage } from './modules/quality-stage.js';
import { whaleTrades } from './modules/detectors.js';
import { writeAlerts } from './modules/alert-output.js';

export default defineJob('whale-trades', {
  prepare: prepareFeatures,
  build: (env, context, features) => {
    const trades = qualityStage(env, features, context);
    writeAlerts(whaleTrades(trades, features), context);
  },
});
