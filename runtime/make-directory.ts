// `mkdir -p` that always ends. Node 20's recursive mkdir loops forever, sync or not, where mkdir reports
// ENOENT although the parent exists (procfs: `-o /proc/out` hung a run at full CPU and no signal could stop
// it). Missing parents are made one at a time instead; a folder that still cannot be made fails with its error.

import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function makeDirectory(folder: string): Promise<void> {
  try {
    await mkdir(folder);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return existingFolder(folder, error);
    const parent = dirname(folder);
    if (code !== 'ENOENT' || parent === folder) throw error;
    await makeDirectory(parent);
  }
  try {
    await mkdir(folder);
  } catch (error) {
    // Another writer (a sibling subtask) may have made it meanwhile.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return existingFolder(folder, error);
    throw error;
  }
}

async function existingFolder(folder: string, error: unknown): Promise<void> {
  if (!(await stat(folder)).isDirectory()) throw error;
}
