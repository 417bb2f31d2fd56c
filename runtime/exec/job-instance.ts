// Every thread builds the same graph from the same bundled job file, then runs its own part of the plan.

import { buildJob, prepareJob, type JobContextInput } from '../graph/job.js';
import { planJob, type PhysicalPlan } from '../plan/physical-plan.js';
import { importJob } from './job-loader.js';
import type { JobLaunch } from './messages.js';

function contextOf(launch: JobLaunch): JobContextInput {
  return { ...(launch.configPath ? { configPath: launch.configPath } : {}), live: launch.live, outputs: launch.outputs };
}

/** On the coordinator, once: the launch every thread gets, with the job's prepare() result in it. */
export async function prepareLaunch(launch: JobLaunch, jobFile?: string): Promise<JobLaunch> {
  const job = await importJob(launch.jobUrl, jobFile);
  const prepared = await prepareJob(job, contextOf(launch));
  return prepared === undefined ? launch : { ...launch, prepared };
}

export async function instantiatePlan(launch: JobLaunch, jobFile?: string): Promise<{ name: string; plan: PhysicalPlan }> {
  const job = await importJob(launch.jobUrl, jobFile);
  const env = buildJob(job, contextOf(launch), launch.prepared);
  return { name: job.name, plan: planJob(env.graph) };
}
