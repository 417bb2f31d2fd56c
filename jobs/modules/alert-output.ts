// Where alerts go: the anomaly_alerts table always, and one readable line per alert on a live run.

import { lazySink, stdoutSink, tableSink, type DataStream, type JobContext, type TableRow } from 'coattail';
import { ANOMALY_ALERTS } from './tables.js';

export function formatAlertLine(alert: TableRow): string {
  const time = new Date(alert.detected_at as number).toISOString().slice(11, 19);
  const where = alert.exchange ? `${alert.symbol}@${alert.exchange}` : String(alert.symbol);
  return `${time} ${String(alert.severity).toUpperCase().padEnd(8)} ${String(alert.alert_type).padEnd(12)} ${where.padEnd(22)} ${alert.message}`;
}

export function writeAlerts(alerts: DataStream<TableRow>, context: JobContext): void {
  alerts.sinkTo('anomaly-alerts', tableSink(ANOMALY_ALERTS));
  if (context.live) alerts.sinkTo('alerts-console', stdoutSink<TableRow>('alerts-console', formatAlertLine));
  const hotStore = context.outputs.alerts;
  if (hotStore) {
    // --alerts dynamodb:<table>: the hot alerts table the API reads, written idempotently by alert_id.
    alerts.sinkTo(
      'alerts-store',
      lazySink(hotStore, async () => (await import('../../connectors/sinks/dynamodb-alerts.js')).dynamoAlertsSinkFromUri(hotStore)),
    );
  }
}
