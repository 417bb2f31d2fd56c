// Remembers job bundles between runs: bundling jobs/all.ts (with zod and yaml) takes esbuild a quarter to
// half a second, every run and every test paid it, and the result only changes when an input file does.
// A bundle is reused while every input file esbuild read keeps its size and modification time.

import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

interface InputStamp {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

interface Manifest {
  readonly folder: string;
  readonly inputs: readonly InputStamp[];
}

/** Bundles older than this that no manifest points to are removed when a newer one is written. */
const STALE_MS = 60 * 60 * 1000;

export class BundleCache {
  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  /** The folder of a still-valid bundle for `key`, if there is one. */
  lookup(key: string): string | undefined {
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(this.manifestPath(key), 'utf8')) as Manifest;
    } catch {
      return undefined;
    }
    const folder = join(this.root, manifest.folder);
    if (!existsSync(folder) || !manifest.inputs.every((input) => stampMatches(input))) return undefined;
    return folder;
  }

  /** A fresh folder to bundle into; `remember` publishes it. */
  newFolder(key: string): string {
    const folder = join(this.root, `${key}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(folder, { recursive: true });
    return folder;
  }

  /** Points `key` at `folder` (atomically: concurrent runs see the old manifest or the new one). */
  remember(key: string, folder: string, inputPaths: readonly string[]): void {
    const inputs = inputPaths.map((path) => {
      const stats = statSync(path);
      return { path, size: stats.size, mtimeMs: stats.mtimeMs };
    });
    const name = folder.slice(this.root.length + 1);
    const temporary = `${this.manifestPath(key)}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify({ folder: name, inputs } satisfies Manifest));
    renameSync(temporary, this.manifestPath(key));
    this.removeStale(key, name);
  }

  private manifestPath(key: string): string {
    return join(this.root, `${key}.json`);
  }

  /**
   * Earlier bundles of the same key, and single-file bundles of engine versions before this cache; a run
   * started within the last hour may still import from one, so only older ones go.
   */
  private removeStale(key: string, current: string): void {
    for (const entry of readdirSync(this.root)) {
      if (!(entry.startsWith(`${key}-`) || entry.endsWith('.mjs')) || entry === current) continue;
      const path = join(this.root, entry);
      try {
        if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
      } catch {
        // Another process removed it first.
      }
    }
  }
}

function stampMatches(input: InputStamp): boolean {
  try {
    const stats = statSync(input.path);
    return stats.size === input.size && stats.mtimeMs === input.mtimeMs;
  } catch {
    return false;
  }
}
