// The coordinator's dedupe state as a journal of segments, one per checkpoint interval, so a checkpoint
// writes only the ids added since the previous one (incremental, as Flink's RocksDB checkpoints) and old
// segments are dropped whole once they fall behind the horizon.

import { DedupeIndex, dedupeHash } from './dedupe-index.js';

export interface DedupeSegmentData {
  /** Ids joined with `\n`, escaped by `encodeIds` so any id survives. */
  readonly ids: string;
  readonly times: Float64Array;
}

interface Segment {
  readonly ids: string[];
  /** dedupeHash of each id (not stored in checkpoints: computed again on restore). */
  readonly hashes: Uint32Array;
  readonly times: Float64Array;
  /** Ids held: the open segment's arrays are allocated at full size, so adding never copies them; sealed ones fit. */
  count: number;
  maxTime: number;
  /** Where a completed checkpoint stored it; undefined until then. */
  key?: string;
}

/** Segments close at this size, so eviction can drop old ids whole even without checkpoints. */
const SEGMENT_IDS = 65_536;

/** Event ids may contain any character; escape the separator and the escape so joining is reversible. */
function encodeIds(ids: readonly string[]): string {
  return ids.map((id) => (id.includes('\n') || id.includes('\\') ? id.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : id)).join('\n');
}

function decodeIds(text: string): string[] {
  if (text.length === 0) return [];
  return text.split('\n').map((id) => (id.includes('\\') ? id.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\')) : id));
}

function emptySegment(): Segment {
  return {
    ids: new Array<string>(SEGMENT_IDS),
    hashes: new Uint32Array(SEGMENT_IDS),
    times: new Float64Array(SEGMENT_IDS),
    count: 0,
    maxTime: Number.NEGATIVE_INFINITY,
  };
}

export class DedupeJournal {
  /** id -> event time of its first passed occurrence. */
  private readonly seen = new DedupeIndex();
  private readonly segments: Segment[] = [];
  private open: Segment = emptySegment();

  /** Ids kept now. */
  get size(): number {
    return this.seen.size;
  }

  /** The event time the id passed at, if it is kept. `hash` is dedupeHash(id). */
  firstTime(id: string, hash: number): number | undefined {
    return this.seen.get(id, hash);
  }

  /** Record a passed id (new, or seen again beyond the horizon). */
  add(id: string, hash: number, time: number): void {
    this.seen.set(id, hash, time);
    const open = this.open;
    const index = open.count++;
    open.ids[index] = id;
    open.hashes[index] = hash;
    open.times[index] = time;
    if (time > open.maxTime) open.maxTime = time;
    if (open.count === SEGMENT_IDS) this.seal();
  }

  /**
   * Drop whole segments whose newest time is before `horizon`. An id is forgotten only if its current
   * time is the one from the dropped segment (a later passing keeps it).
   */
  evictBefore(horizon: number): void {
    while (this.segments.length > 0 && this.segments[0]!.maxTime < horizon) {
      const segment = this.segments.shift()!;
      for (let i = 0; i < segment.count; i++) this.seen.deleteIfTime(segment.ids[i]!, segment.hashes[i]!, segment.times[i]!);
    }
  }

  /** Close the open segment (at a checkpoint, or when full). */
  seal(): void {
    const open = this.open;
    if (open.count === 0) return;
    // Checkpoints seal segments early: keep only what they hold, not the full-size arrays.
    const count = open.count;
    const sealed = count === SEGMENT_IDS ? open : { ...open, ids: open.ids.slice(0, count), hashes: open.hashes.slice(0, count), times: open.times.slice(0, count) };
    this.segments.push(sealed);
    this.open = emptySegment();
  }

  /**
   * For a checkpoint: seal, then name each segment not yet stored (`keyFor(i)`) and return its data. The
   * names become permanent with `confirm` once the checkpoint completed; a failed one is simply retried.
   */
  prepareCheckpoint(keyFor: (index: number) => string): { keys: string[]; files: Array<{ key: string; data: DedupeSegmentData }> } {
    this.seal();
    const files: Array<{ key: string; data: DedupeSegmentData }> = [];
    const keys = this.segments.map((segment) => {
      if (segment.key) return segment.key;
      const key = keyFor(files.length);
      files.push({ key, data: { ids: encodeIds(segment.ids), times: segment.times.slice() } });
      return key;
    });
    return { keys, files };
  }

  /** The checkpoint that stored these segments completed: remember where they are. */
  confirm(keys: readonly string[]): void {
    this.segments.forEach((segment, index) => {
      if (!segment.key && keys[index]) segment.key = keys[index];
    });
  }

  /** Rebuild from stored segments, oldest first. */
  restore(segments: ReadonlyArray<{ key: string; data: DedupeSegmentData }>): void {
    for (const { key, data } of segments) {
      const ids = decodeIds(data.ids);
      const hashes = Uint32Array.from(ids, dedupeHash);
      const times = Float64Array.from(data.times);
      let maxTime = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < ids.length; i++) {
        this.seen.set(ids[i]!, hashes[i]!, times[i]!);
        if (times[i]! > maxTime) maxTime = times[i]!;
      }
      this.segments.push({ ids, hashes, times, count: ids.length, maxTime, key });
    }
  }
}
