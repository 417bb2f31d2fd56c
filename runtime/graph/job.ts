// A job file's default export: a name and a function that builds the graph on an environment.

import { StreamEnvironment } from './data-stream.js';
import { CoattailError, describeError, isCoattailError } from '../errors.js';

export interface JobContext {
  /** `-c/--config` as given on the command line, if any. */
  readonly configPath?: string;
  /** True when the source never ends (live market, feeds, Kinesis without --bounded). */
  readonly live: boolean;
  /**
   * Extra outputs named on the command line, for the job to wire: `--dlq <uri>` as `outputs.dlq`,
   * `--alerts <uri>` as `outputs.alerts`.
   */
  readonly outputs: Readonly<Record<string, string>>;
}

export interface JobDefinition<Prepared = unknown> {
  readonly kind: 'coattail-job';
  readonly name: string;
  /**
   * Runs once, on the coordinator, before any thread builds the graph (Flink's client-side job setup):
   * load and validate configuration there, so that worker threads neither repeat the work nor load its
   * libraries. The value travels to every thread by structured clone, so it must be plain data.
   */
  readonly prepare?: (context: JobContext) => Prepared | Promise<Prepared>;
  /**
   * Declared as a method so that any job is a `JobDefinition` (of `unknown`): a property of function type would
   * make `JobDefinition<undefined>` unassignable to it, and `JobTestHarness.create(job)` fail to type-check.
   */
  build(env: StreamEnvironment, context: JobContext, prepared: Prepared): void;
}

export interface PreparedJobOptions<Prepared> {
  readonly prepare: (context: JobContext) => Prepared | Promise<Prepared>;
  readonly build: (env: StreamEnvironment, context: JobContext, prepared: Prepared) => void;
}

export function defineJob(name: string, build: (env: StreamEnvironment, context: JobContext) => void): JobDefinition<undefined>;
export function defineJob<Prepared>(name: string, job: PreparedJobOptions<Prepared>): JobDefinition<Prepared>;
export function defineJob<Prepared>(
  name: string,
  job: ((env: StreamEnvironment, context: JobContext) => void) | PreparedJobOptions<Prepared>,
): JobDefinition<Prepared> | JobDefinition<undefined> {
  if (typeof job === 'function') return { kind: 'coattail-job', name, build: job };
  return { kind: 'coattail-job', name, prepare: job.prepare, build: job.build };
}

export function isJobDefinition(value: unknown): value is JobDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'coattail-job';
}

/** What callers give `buildJob`: outputs default to none. */
export type JobContextInput = Omit<JobContext, 'outputs'> & { readonly outputs?: JobContext['outputs'] };

export function buildJob(job: JobDefinition, context: JobContextInput, prepared?: unknown): StreamEnvironment {
  const env = new StreamEnvironment();
  try {
    job.build(env, { outputs: {}, ...context }, prepared);
  } catch (error) {
    throw inJobCode(job, 'build', error);
  }
  return env;
}

/**
 * An exception from the job's own build or prepare code says so, so the one line on stderr points at the job
 * file. The builder's own errors (a step name used twice, a bad duration) already say what is wrong.
 */
function inJobCode(job: JobDefinition, phase: 'build' | 'prepare', error: unknown): unknown {
  if (isCoattailError(error)) return error;
  return new CoattailError('JOB_INVALID', `job ${job.name}: ${phase}() threw: ${describeError(error)}`, { cause: error });
}

/** Runs the job's `prepare` (if any) with the context its threads will see; checks the value can travel. */
export async function prepareJob(job: JobDefinition, context: JobContextInput): Promise<unknown> {
  if (!job.prepare) return undefined;
  let prepared: unknown;
  try {
    prepared = await job.prepare({ outputs: {}, ...context });
  } catch (error) {
    throw inJobCode(job, 'prepare', error);
  }
  try {
    structuredClone(prepared);
  } catch (error) {
    throw new CoattailError('JOB_INVALID', `job ${job.name}: prepare() must return plain data (it is sent to every thread): ${describeError(error)}`);
  }
  return prepared;
}
