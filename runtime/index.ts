// The public API of coattail: what job files and embedding programs import (`import { ... } from 'coattail'`).

import type { RunOptions, RunResult } from './exec/run-options.js';

export { defineJob, type JobContext, type JobDefinition, type PreparedJobOptions } from './graph/job.js';
export { StreamEnvironment, DataStream, KeyedStream, WindowedStream, ConnectedStreams } from './graph/data-stream.js';
export { OutputTag } from './graph/functions.js';
export type {
  AggregateFunction,
  Collector,
  CoProcessFunction,
  Counter,
  KeyedContext,
  KeyedProcessFunction,
  KeyedRuntimeContext,
  KeyedStateStore,
  ListState,
  MapState,
  Metrics,
  ProcessContext,
  ProcessFunction,
  ProcessWindowFunction,
  RuntimeContext,
  TimeWindow,
  TimerContext,
  TimerService,
  ValueState,
  WindowAssigner,
  WindowContext,
  WindowOptions,
} from './graph/functions.js';
export { tumbling, sliding, session } from './graph/windows.js';
export { parseDuration, type Duration } from './time/duration.js';
export { CoattailError, type ErrorCode } from './errors.js';
export type { RawRecord, Source, SourceChunk, SplitDescriptor, SplitPosition, SplitReader, ChunkPayload } from './api/source.js';
export type { SinkContext, SinkFactory, SinkWriter, PendingCommit } from './api/sink.js';
export type { ColumnSpec, ColumnType, TableRow, TableSchema } from './api/table.js';
export { keyGroupFor, subtaskForKey, keyGroupRangeFor } from './plan/key-groups.js';
export { fileSource } from '../connectors/sources/file-source.js';
export { generatorSource } from '../connectors/sources/generator-source.js';
export type { RunOptions, RunResult } from './exec/run-options.js';
export type { RunStatus } from './exec/run-status.js';
export { tableSink, type TableSinkOptions, type TableRowOf } from '../connectors/sinks/table-sink.js';
export { stdoutSink } from '../connectors/sinks/stdout-sink.js';
export * from './testing/harness.js';
export { JsonFieldReader, type JsonFieldReaderOptions, type JsonScalar } from './formats/json-fields.js';
export { lazySink } from '../connectors/sinks/lazy-sink.js';

/**
 * Runs a job (what `coattail run` does). The coordinator is imported on first use: job files import this
 * module in every worker thread, and none of them needs the coordinator's dependencies (esbuild, piscina,
 * checkpoint storage), which cost each thread over 100 ms to load.
 */
export async function runJob(options: RunOptions): Promise<RunResult> {
  const coordinator = await import('./exec/coordinator.js');
  return coordinator.runJob(options);
}
