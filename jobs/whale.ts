// MOD-002 whale trades: quality stage, then every trade above the whale threshold becomes a row and an alert.

import { defineJob } from 'coattail';
import { loadFeatures } from './modules/config.js';
import { qualityStage } from './modules/quality-stage.js';
import { whaleTrades } from './modules/detectors.js';
import { writeAlerts } from './modules/alert-output.js';

export default defineJob('whale-trades', (env, context) => {
  const features = loadFeatures(context.configPath);
  const trades = qualityStage(env, features, context);
  writeAlerts(whaleTrades(trades, features), context);
});
