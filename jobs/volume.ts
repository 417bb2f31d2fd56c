// MOD-001 volume anomaly: quality stage, 60 s windows per (symbol, exchange), rolling one-hour z-score.

import { defineJob } from 'coattail';
import { loadFeatures } from './modules/config.js';
import { qualityStage } from './modules/quality-stage.js';
import { volumeAnomalies } from './modules/detectors.js';
import { writeAlerts } from './modules/alert-output.js';

export default defineJob('volume-anomaly', (env, context) => {
  const features = loadFeatures(context.configPath);
  const trades = qualityStage(env, features, context);
  writeAlerts(volumeAnomalies(trades, features), context);
});
