// makeDirectory: mkdir -p that always ends (Node 20's recursive mkdir loops forever under /proc).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { makeDirectory } from '../../runtime/make-directory.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'coattail-mkdir-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('makeDirectory', () => {
  it('makes every missing folder of a path, and accepts one that exists', async () => {
    const deep = path.join(root, 'a', 'b', 'c');
    await makeDirectory(deep);
    expect((await stat(deep)).isDirectory()).toBe(true);
    await makeDirectory(deep);
  });

  it('lets many writers make the same folders at once', async () => {
    const deep = path.join(root, 'x', 'y', 'z');
    await Promise.all(Array.from({ length: 16 }, () => makeDirectory(deep)));
    expect((await stat(deep)).isDirectory()).toBe(true);
  });

  it('fails when a file stands where a folder should be', async () => {
    await writeFile(path.join(root, 'file'), 'x');
    await expect(makeDirectory(path.join(root, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirectory(path.join(root, 'file', 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it.runIf(existsSync('/proc/self'))('fails at once under /proc, where mkdir -p would spin forever', async () => {
    await expect(makeDirectory('/proc/coattail-no-such/folder')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
