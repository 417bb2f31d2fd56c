// Every module enabled in config/features.yaml over one source and one quality stage (the seeds' single
// application). Alerts of all modules land in one anomaly_alerts table.

import { defineJob, type DataStream, type TableRow } from 'coattail';
import { prepareFeatures } from './modules/prepare-features.js';
import { qualityStage } from './modules/quality-stage.js';
import { exchangeSpreads, volumeAnomalies, whaleTrades, windowTrades } from './modules/detectors.js';
import { writeAlerts } from './modules/alert-output.js';

export default defineJob('coat-tail-all', {
  prepare: prepareFeatures,
  build: (env, context, features) => {
    const trades = qualityStage(env, features, context);
    const alerts: DataStream<TableRow>[] = [];
    if (features.whale.enabled) alerts.push(whaleTrades(trades, features));
    const forWindows = features.volume.enabled || features.spread.enabled ? windowTrades(trades) : undefined;
    if (features.volume.enabled) alerts.push(volumeAnomalies(forWindows!, features));
    if (features.spread.enabled) alerts.push(exchangeSpreads(forWindows!, features));
    const [first, ...rest] = alerts;
    if (first) writeAlerts(rest.length > 0 ? first.union(...rest) : first, context);
  },
});
