// A source over generated lines: as fast as possible (bounded tapes) or paced in real time (a live market).

import type { Source, SourceChunk, SplitPosition, SplitReader } from '../../runtime/api/source.js';

export interface GeneratorSourceOptions {
  readonly uri: string;
  /**
   * Produces the lines; called once per run (and once more per restore). `startMs`, for a `clock` tape only: the
   * event time of its first line.
   */
  readonly lines: (startMs: number | undefined) => Iterable<string>;
  /**
   * A tape that simulates now (the live market): its event time starts at the wall clock, advancing by
   * `eventsPerSecond` lines a second of event time. Its positions (`<offset>@<startMs>`) keep where that was.
   */
  readonly clock?: { readonly eventsPerSecond: number };
  /** Live pace: lines per second of wall-clock time. Omit to produce as fast as the pipeline takes them. */
  readonly linesPerSecond?: number;
  /** An unpaced generator is bounded (it ends); a paced one runs until stopped unless `bounded` says so. */
  readonly bounded?: boolean;
  readonly chunkLines?: number;
}

export function generatorSource(options: GeneratorSourceOptions): Source {
  const bounded = options.bounded ?? options.linesPerSecond === undefined;
  return {
    uri: options.uri,
    bounded,
    async discoverSplits() {
      return [{ splitId: 'generator-0', origin: options.uri }];
    },
    async openSplit(_split, from) {
      const { offset, startMs } = startOf(from, options.clock);
      return new GeneratorReader(options, offset, startMs);
    },
  };
}

/**
 * Where a run of the tape starts reading, and (clock tapes) the event time of the tape's first line. A restored
 * clock tape continues at the event time it had reached or, if the wall clock has passed that meanwhile (at the
 * real-time pace, always), at the wall clock: the market went on while the job was stopped, and its time never
 * goes back (at --speed N it runs ahead of the clock). Starting the tape at now instead put a restored run's event
 * time ahead of the clock by as long as every earlier run had lasted.
 */
function startOf(from: SplitPosition | undefined, clock: GeneratorSourceOptions['clock']): { offset: number; startMs: number | undefined } {
  const [offsetText, startText] = typeof from === 'string' ? from.split('@') : [];
  const offset = typeof from === 'number' ? from : offsetText ? Number(offsetText) : 0;
  if (!clock) return { offset, startMs: undefined };
  const now = Date.now();
  // A fresh start, or a position written before positions carried their start (kept as it was: now).
  if (startText === undefined) return { offset, startMs: now };
  const caughtUp = now - Math.floor((offset * 1000) / clock.eventsPerSecond);
  return { offset, startMs: Math.max(Number(startText), caughtUp) };
}

/** The longest a paced `next()` waits before it answers with an empty chunk. */
const MAX_WAIT_MS = 1000;
/** Lines a restored reader re-generates per `next()` on its way to its position (a few tens of ms). */
export const SKIP_SLICE_LINES = 20_000;

class GeneratorReader implements SplitReader {
  private readonly iterator: Iterator<string>;
  private started = Date.now();
  private produced = 0;
  /** The offset of a line is its index in the generated sequence. */
  private offset: number;
  /** Lines still to re-generate before the restored position. */
  private toSkip: number;

  constructor(private readonly options: GeneratorSourceOptions, skip: number, private readonly startMs: number | undefined) {
    this.iterator = options.lines(startMs)[Symbol.iterator]();
    this.offset = skip;
    this.toSkip = skip;
  }

  async next(): Promise<SourceChunk | undefined> {
    if (this.toSkip > 0) {
      // A restore re-generates the tape up to its position: millions of lines after a long live run, ~15 s for
      // 8M. In slices, each answered with an empty chunk, so the event loop (Ctrl-C, the status line) and a stop
      // request are served meanwhile; done at once, it blocked them until the end.
      for (let slice = Math.min(SKIP_SLICE_LINES, this.toSkip); slice > 0; slice--) {
        this.toSkip = this.iterator.next().done ? 0 : this.toSkip - 1;
      }
      if (this.toSkip > 0) {
        // Answered after the event loop's other work: a caller that asks again at once (its promises resolve
        // without a macrotask in between) would otherwise keep timers and signal handlers waiting till the end.
        await new Promise((resolve) => setImmediate(resolve));
        return { payload: { kind: 'records', texts: [], offsets: [] }, endPosition: this.position() };
      }
      // The pace counts from here: the time spent re-generating is not a backlog of the market.
      this.started = Date.now();
    }
    const pace = this.options.linesPerSecond;
    let room = this.options.chunkLines ?? (pace ? Math.max(1, Math.ceil(pace / 20)) : 4096);
    if (pace) {
      // Wait until the wall clock allows at least one more line, then take what is due (at most a chunk).
      const due = () => Math.floor(((Date.now() - this.started) * pace) / 1000) - this.produced;
      // After a second with nothing due, answer with an empty chunk (as the Kinesis reader does), so a stop
      // request is seen at once: a slow pace (rate=0.02) used to keep SIGINT waiting for the next line.
      const giveUpAt = Date.now() + MAX_WAIT_MS;
      while (due() < 1) {
        if (Date.now() >= giveUpAt) return { payload: { kind: 'records', texts: [], offsets: [] }, endPosition: this.position() };
        await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(5, 1000 / pace), MAX_WAIT_MS)));
      }
      room = Math.min(room, due());
    }
    const texts: string[] = [];
    const offsets: number[] = [];
    while (texts.length < room) {
      const step = this.iterator.next();
      if (step.done) break;
      texts.push(step.value);
      offsets.push(this.offset++);
    }
    this.produced += texts.length;
    if (texts.length === 0) return undefined;
    return { payload: { kind: 'records', texts, offsets }, endPosition: this.position() };
  }

  private position(): SplitPosition {
    return this.startMs === undefined ? this.offset : `${this.offset}@${this.startMs}`;
  }

  async close(): Promise<void> {}
}
