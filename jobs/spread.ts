// MOD-003 cross-exchange spread: quality stage, 30 s windows per symbol, VWAP of the exchange pair.

import { defineJob } from 'coattail';
import { prepareFeatures } from './modules/prepare-features.js';
import { qualityStage } from './modules/quality-stage.js';
import { exchangeSpreads, windowTrades } from './modules/detectors.js';
import { writeAlerts } from './modules/alert-output.js';

export default defineJob('exchange-spread', {
  prepare: prepareFeatures,
  build: (env, context, features) => {
    const trades = qualityStage(env, features, context);
    writeAlerts(exchangeSpreads(windowTrades(trades), features), context);
  },
});
