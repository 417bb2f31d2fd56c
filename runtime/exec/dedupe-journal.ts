// The coordinator's dedupe state as a journal of segments, one per checkpoint interval, so a checkpoint
// writes only the ids added since the previous one (incremental, as Flink's RocksDB checkpoints) and old
// segments are dropped whole once they fall behind the horizon.

import { DedupeIndex, dedupeHash } from './dedupe-index.js';
import { IdArena } from './id-arena.js';
import { StringColumn } from './typed-column.js';

export interface DedupeSegmentData {
  /** Ids joined with `\n`, escaped by `encodeIds` so any id survives. */
  readonly ids: string;
  readonly times: Float64Array;
}

interface Segment {
  /** Arena position of the first id; each id ends where the next begins. */
  readonly start: number;
  /** Arena position after each id. */
  readonly ends: Float64Array;
  /** dedupeHash of each id (not stored in checkpoints: computed again on restore). */
  readonly hashes: Uint32Array;
  readonly times: Float64Array;
  /** Ids held: the open segment's arrays are allocated at full size, so adding never copies them; sealed ones fit. */
  count: number;
  maxTime: number;
  /** Where a completed checkpoint stored it; undefined until then. */
  key?: string;
  /** Where the checkpoint in flight stores it, until `confirm` makes it `key` (a failed one is overwritten). */
  pendingKey?: string;
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

function emptySegment(start: number, size = SEGMENT_IDS): Segment {
  return {
    start,
    ends: new Float64Array(size),
    hashes: new Uint32Array(size),
    times: new Float64Array(size),
    count: 0,
    maxTime: Number.NEGATIVE_INFINITY,
  };
}

export class DedupeJournal {
  /** The code units of every id the segments hold, oldest first. */
  private readonly arena = new IdArena();
  /** id -> event time of its first passed occurrence. */
  private readonly seen = new DedupeIndex(this.arena);
  private readonly segments: Segment[] = [];
  private open: Segment = emptySegment(0);

  /** Ids kept now. */
  get size(): number {
    return this.seen.size;
  }

  /** The event time the id `source[start, end)` passed at, if it is kept. `hash` is dedupeHash of the id. */
  firstTime(source: Uint16Array, start: number, end: number, hash: number): number | undefined {
    return this.seen.get(source, start, end - start, hash);
  }

  /** Record a passed id (new, or seen again beyond the horizon). */
  add(source: Uint16Array, start: number, end: number, hash: number, time: number): void {
    this.keep(this.open, source, start, end, hash, time);
    if (this.open.count === SEGMENT_IDS) this.seal();
  }

  private keep(segment: Segment, source: Uint16Array, start: number, end: number, hash: number, time: number): void {
    const position = this.arena.append(source, start, end);
    this.seen.set(source, start, end - start, hash, time, position);
    const index = segment.count++;
    segment.ends[index] = position + (end - start);
    segment.hashes[index] = hash;
    segment.times[index] = time;
    if (time > segment.maxTime) segment.maxTime = time;
  }

  /**
   * Drop whole segments whose newest time is before `horizon`. An id is forgotten only if its newest copy is
   * the dropped segment's (a later passing keeps it).
   */
  evictBefore(horizon: number): void {
    while (this.segments.length > 0 && this.segments[0]!.maxTime < horizon) {
      const segment = this.segments.shift()!;
      let from = segment.start;
      for (let i = 0; i < segment.count; i++) {
        const end = segment.ends[i]!;
        this.seen.deleteCopy(segment.hashes[i]!, from, end - from);
        from = end;
      }
      this.arena.dropBefore(from);
    }
  }

  /** Close the open segment (at a checkpoint, or when full). */
  seal(): void {
    const open = this.open;
    if (open.count === 0) return;
    // Checkpoints seal segments early: keep only what they hold, not the full-size arrays.
    const count = open.count;
    const sealed = count === SEGMENT_IDS ? open : { ...open, ends: open.ends.slice(0, count), hashes: open.hashes.slice(0, count), times: open.times.slice(0, count) };
    this.segments.push(sealed);
    this.open = emptySegment(this.arena.end);
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
      files.push({ key, data: { ids: encodeIds(this.idsOf(segment)), times: segment.times.slice() } });
      segment.pendingKey = key;
      return key;
    });
    return { keys, files };
  }

  /**
   * The checkpoint that stored these segments completed: remember where they are. Matched by key, not by position:
   * chunks applied while the checkpoint was in flight may have evicted older segments.
   */
  confirm(keys: readonly string[]): void {
    const stored = new Set(keys);
    for (const segment of this.segments) {
      if (!segment.key && segment.pendingKey !== undefined && stored.has(segment.pendingKey)) segment.key = segment.pendingKey;
    }
  }

  /**
   * Rebuild from stored segments, oldest first (into a journal that holds nothing yet). A segment may come as a
   * function that decodes it: one at a time, so a big checkpoint's ids are not all held decoded at once.
   */
  restore(segments: ReadonlyArray<{ key: string; data: DedupeSegmentData | (() => DedupeSegmentData) }>): void {
    for (const { key, data: stored } of segments) {
      const data = typeof stored === 'function' ? stored() : stored;
      const ids = decodeIds(data.ids);
      const segment = emptySegment(this.arena.end, ids.length);
      // As the decode stage sends them: code units and where each id ends.
      const { chars, ends } = StringColumn.of(ids);
      ids.forEach((id, i) => this.keep(segment, chars, i === 0 ? 0 : ends[i - 1]!, ends[i]!, dedupeHash(id), data.times[i]!));
      segment.key = key;
      this.segments.push(segment);
    }
    this.open = emptySegment(this.arena.end);
  }

  private idsOf(segment: Segment): string[] {
    const ids = new Array<string>(segment.count);
    let from = segment.start;
    for (let i = 0; i < segment.count; i++) {
      const end = segment.ends[i]!;
      ids[i] = this.arena.text(from, end - from);
      from = end;
    }
    return ids;
  }
}
