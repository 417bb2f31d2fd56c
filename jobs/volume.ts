// MOD-001 volume anomaly: quality stage, 60 s windows per (symbol, exchange), rolling one-hour z-score.

import { defineJob } from 'coattail';
import { prepareFeatures } from './modules/prepare-features.js';
import { qualityStage } from './modules/quality-stage.js';
import { volumeAnomalies, windowTrades } from './modules/detectors.js';
import { writeAlerts } from './modules/alert-output.js';

export default defineJob('volume-anomaly', {
  prepare: prepareFeatures,
  build: (env, context, features) => {
    const trades = qualityStage(env, features, context);
    writeAlerts(volumeAnomalies(windowTrades(trades), features), context);
  },
});
