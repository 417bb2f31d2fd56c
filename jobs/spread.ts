// MOD-003 cross-exchange spread: quality stage, 30 s windows per symbol, VWAP of the exchange pair.

import { defineJob } from 'coattail';
import { loadFeatures } from './modules/config.js';
import { qualityStage } from './modules/quality-stage.js';
import { exchangeSpreads } from './modules/detectors.js';
import { writeAlerts } from './modules/alert-output.js';

export default defineJob('exchange-spread', (env, context) => {
  const features = loadFeatures(context.configPath);
  const trades = qualityStage(env, features, context);
  writeAlerts(exchangeSpreads(trades, features), context);
});
