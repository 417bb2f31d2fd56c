// MOD-000 as a graph: parse and check every record, send rejects to the DLQ, drop duplicates keep-first in
// source order, then assign event time. Every Coat Tail job starts with this stage.

import { OutputTag, lazySink, tableSink, type DataStream, type JobContext, type ProcessFunction, type RawRecord, type StreamEnvironment, type TableRow, type Counter } from 'coattail';
import type { Features } from './config.js';
import { checkRawRecord, dlqRow, type QualityRules } from './quality.js';
import { DLQ } from './tables.js';
import type { Trade } from './trade.js';

/** A passed trade with the flags of stages 5 and 6, counted only once it has survived dedup. */
export interface CheckedTrade extends Trade {
  late_flagged?: boolean;
  inconsistent?: boolean;
}

export const DLQ_ROWS = new OutputTag<TableRow>('dlq');

function qualityCheck(rules: QualityRules): ProcessFunction<RawRecord, CheckedTrade> {
  const rejected: Record<string, Counter> = {};
  return {
    open(context) {
      for (const reason of ['malformed', 'incomplete', 'invalid']) rejected[reason] = context.metrics.counter(reason);
    },
    processElement(raw, context, out) {
      const outcome = checkRawRecord(raw, rules);
      if (outcome.status === 'rejected') {
        rejected[outcome.reason]!.inc();
        context.output(DLQ_ROWS, dlqRow(raw, outcome.reason, outcome.error, Date.now()));
        return;
      }
      const trade: CheckedTrade = outcome.trade;
      if (outcome.lateFlagged) trade.late_flagged = true;
      if (outcome.inconsistent) trade.inconsistent = true;
      out.collect(trade);
    },
  };
}

/** Stages 5 and 6 are counted after dedup, where only first occurrences arrive. */
function countFlags(): ProcessFunction<CheckedTrade, never> {
  let lateFlagged: Counter;
  let inconsistent: Counter;
  return {
    open(context) {
      lateFlagged = context.metrics.counter('late_flagged');
      inconsistent = context.metrics.counter('inconsistent');
    },
    processElement(trade) {
      if (trade.late_flagged) lateFlagged.inc();
      if (trade.inconsistent) inconsistent.inc();
    },
  };
}

/** Source -> quality -> DLQ, dedup, event time. Returns the stream of passed, first-occurrence trades. */
export function qualityStage(env: StreamEnvironment, features: Features, context: JobContext): DataStream<CheckedTrade> {
  const checked = env.source('trades').process('quality', qualityCheck(features.quality));
  const rejects = checked.getSideOutput(DLQ_ROWS);
  rejects.sinkTo('dlq', tableSink(DLQ));
  const dlqTarget = context.outputs.dlq;
  if (dlqTarget) {
    // --dlq kinesis:<stream>: the same rows, one JSON record each, keyed by where they came from.
    rejects.sinkTo(
      'dlq-stream',
      lazySink(dlqTarget, async () => {
        const { kinesisSinkFromUri } = await import('../../connectors/sinks/kinesis-sink.js');
        return kinesisSinkFromUri<TableRow>(dlqTarget, (row) => `${String(row.source)}@${String(row.offset)}`);
      }),
    );
  }
  const trades = checked
    .dedupe('dedupe', {
      key: (trade) => trade.event_id,
      timestamp: (trade) => trade.timestamp,
      within: features.quality.dedupHorizonMs,
      passedCounter: 'passed',
      duplicateCounter: 'duplicate',
    })
    .withWatermarks('event-time', { timestamp: (trade) => trade.timestamp, idleTimeout: features.source.idleTimeoutMs });
  // Only flagged trades reach the counting step: it keeps counters, so it runs in a subtask, and every trade
  // it received would be encoded and sent there. The filter is pure and runs where records are parsed.
  trades.filter('flagged', (trade) => trade.late_flagged === true || trade.inconsistent === true).process('quality-flags', countFlags());
  return trades;
}
