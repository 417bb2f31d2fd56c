// Every thread builds the same graph from the same bundled job file, then runs its own part of the plan.

import { buildJob } from '../graph/job.js';
import { planJob, type PhysicalPlan } from '../plan/physical-plan.js';
import { importJob } from './job-loader.js';
import type { JobLaunch } from './messages.js';

export async function instantiatePlan(launch: JobLaunch, jobFile?: string): Promise<{ name: string; plan: PhysicalPlan }> {
  const job = await importJob(launch.jobUrl, jobFile);
  const env = buildJob(job, { ...(launch.configPath ? { configPath: launch.configPath } : {}), live: launch.live, outputs: launch.outputs });
  return { name: job.name, plan: planJob(env.graph) };
}
