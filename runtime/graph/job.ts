// A job file's default export: a name and a function that builds the graph on an environment.

import { StreamEnvironment } from './data-stream.js';

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

export interface JobDefinition {
  readonly kind: 'coattail-job';
  readonly name: string;
  readonly build: (env: StreamEnvironment, context: JobContext) => void;
}

export function defineJob(name: string, build: (env: StreamEnvironment, context: JobContext) => void): JobDefinition {
  return { kind: 'coattail-job', name, build };
}

export function isJobDefinition(value: unknown): value is JobDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'coattail-job';
}

/** What callers give `buildJob`: outputs default to none. */
export type JobContextInput = Omit<JobContext, 'outputs'> & { readonly outputs?: JobContext['outputs'] };

export function buildJob(job: JobDefinition, context: JobContextInput): StreamEnvironment {
  const env = new StreamEnvironment();
  job.build(env, { outputs: {}, ...context });
  return env;
}
