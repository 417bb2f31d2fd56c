// A differential fuzzer of the data-quality decision (docs/testing.md): seeded lines, mostly mutated trade lines,
// go through the engine as a file feeds them (a chunk's bytes through forEachRawRecord into checkRawRecord, whose
// JSON field reader reads ASCII lines in place) and through the clean-room oracle (SPEC §1 decoding, JSON.parse).
// Every record must get the same text, status, reason, error, normalized values and flags from both.

import { JsonFieldReader } from 'coattail';
import { checkRawRecord, DEFAULT_QUALITY_RULES, type QualityOutcome, type QualityRules } from '../../jobs/modules/quality.js';
import { forEachRawRecord } from '../../runtime/formats/chunk-records.js';
import { ALLOWED_SYMBOLS, Dice, FIELDS, generateLine } from './quality-fuzz-lines.js';
import { checkRecord, DEFAULT_CONFIG, splitLines, type OracleConfig, type Verdict } from './spec-oracle.js';

export { ALLOWED_SYMBOLS, Dice, generateLine };

// ---------------------------------------------------------------------------------------------
// The two sides: the engine as a file source feeds it, the oracle as SPEC reads

/** A record's fate in a form both sides share; `error` is the engine's wording (the oracle's rule mapped to it). */
export interface Decision {
  readonly status: 'passed' | 'malformed' | 'incomplete' | 'invalid';
  readonly error?: string;
  /** FIELDS' normalized values (times in epoch ms, quote_volume given or price * quantity). */
  readonly values?: readonly unknown[];
  readonly lateFlagged?: boolean;
  readonly inconsistent?: boolean;
}

interface RuleSet {
  readonly name: string;
  readonly rules: QualityRules;
  readonly config: OracleConfig;
}

const RULE_SETS: readonly RuleSet[] = [
  { name: 'default rules', rules: DEFAULT_QUALITY_RULES, config: DEFAULT_CONFIG },
  {
    name: 'quality.symbols allow-list',
    rules: Object.freeze({ ...DEFAULT_QUALITY_RULES, symbols: ALLOWED_SYMBOLS }),
    config: { ...DEFAULT_CONFIG, symbols: ALLOWED_SYMBOLS },
  },
];

const SOURCE = 'file:/fuzz/tape.jsonl';

/** The quality fields read the way `checkRawRecord` reads them: a line it reads here is read in place there too. */
const probe = new JsonFieldReader([...FIELDS], { intern: ['exchange', 'symbol', 'side'] });

function engineDecision(outcome: QualityOutcome): Decision {
  if (outcome.status === 'rejected') return { status: outcome.reason, error: outcome.error };
  const t = outcome.trade;
  return {
    status: 'passed',
    values: [t.event_id, t.exchange, t.symbol, t.price, t.quantity, t.quote_volume, t.side, t.timestamp, t.ingestion_timestamp],
    lateFlagged: outcome.lateFlagged,
    inconsistent: outcome.inconsistent,
  };
}

function oracleDecision(text: string, verdict: Verdict, set: RuleSet): Decision {
  if (!verdict.ok) return { status: verdict.reason, error: engineErrorFor(text, verdict.rule, set) };
  const t = verdict.trade;
  const config = set.config;
  const notional = t.price * t.quantity;
  return {
    status: 'passed',
    values: [t.eventId, t.exchange, t.symbol, t.price, t.quantity, t.quoteVolume, t.side, t.time, t.ingestion],
    // SPEC §2 stages 5 and 6, as runOracle counts them.
    lateFlagged: t.ingestion !== null && t.ingestion - t.time > config.lateFlagAfterMs,
    inconsistent: t.quoteVolumeGiven && Math.abs(t.quoteVolume - notional) > config.inconsistencyTolerance * notional,
  };
}

const TIME_FORMS = 'an ISO-8601 string with Z or ±hh:mm, or a number of epoch milliseconds, in the years 0000-9999';
const NUMBER_RULE = 'must be a finite number > 0 (numeric strings are not accepted)';
/** The engine's DLQ `error` for each oracle rule of stage 3 (the symbol rule depends on the value, see below). */
const ENGINE_ERRORS: Readonly<Record<string, string>> = {
  'event_id is not a non-empty string': 'event_id must be a non-empty string',
  'price is not a finite number > 0': `price ${NUMBER_RULE}`,
  'quantity is not a finite number > 0': `quantity ${NUMBER_RULE}`,
  'exchange is not a non-empty string': 'exchange must be a non-empty string',
  'side is not buy/sell': 'side must be "buy" or "sell"',
  'timestamp not in a supported form': `timestamp must be ${TIME_FORMS}`,
  'ingestion_timestamp not in a supported form': `ingestion_timestamp must be ${TIME_FORMS}`,
  'timestamp in the future of ingestion_timestamp': 'timestamp is more than 5 minutes after ingestion_timestamp (a clock in the future)',
  'quote_volume is not a finite number > 0': `quote_volume ${NUMBER_RULE}`,
};

/** The error text the engine's rule gives for what the oracle refused (the oracle words its rules its own way). */
function engineErrorFor(text: string, rule: string, set: RuleSet): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (value === null) return 'JSON value is null, not an object';
  if (Array.isArray(value)) return 'JSON value is an array, not an object';
  if (typeof value !== 'object') return 'JSON value is a scalar, not an object';
  const record = value as Record<string, unknown>;
  if (rule.endsWith(' missing')) {
    const field = rule.slice(0, -' missing'.length);
    return Object.hasOwn(record, field) ? `required field "${field}" is null` : `missing required field "${field}"`;
  }
  if (rule === 'symbol not allowed') {
    if (typeof record.symbol !== 'string') return 'symbol must be a string';
    return set.config.symbols === null ? 'symbol must match ^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$ (e.g. BTC-USDT)' : 'symbol is not in the allowed list quality.symbols';
  }
  return ENGINE_ERRORS[rule] ?? `(no engine wording known for the oracle rule "${rule}")`;
}

/** Differences between two decisions, one phrase each; -0 and 0 differ. */
export function decisionDifferences(engine: Decision, oracle: Decision): string[] {
  const found: string[] = [];
  if (engine.status !== oracle.status) return [`status: engine ${engine.status}, oracle ${oracle.status}`];
  if (engine.error !== oracle.error) found.push(`error: engine ${show(engine.error)}, oracle's rule maps to ${show(oracle.error)}`);
  if (engine.status !== 'passed') return found;
  FIELDS.forEach((field, index) => {
    const [mine, theirs] = [engine.values?.[index], oracle.values?.[index]];
    if (!Object.is(mine, theirs)) found.push(`${field}: engine ${show(mine)}, oracle ${show(theirs)}`);
  });
  if (engine.lateFlagged !== oracle.lateFlagged) found.push(`late_flagged: engine ${engine.lateFlagged}, oracle ${oracle.lateFlagged}`);
  if (engine.inconsistent !== oracle.inconsistent) found.push(`inconsistent: engine ${engine.inconsistent}, oracle ${oracle.inconsistent}`);
  return found;
}

function show(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** What the engine made of one record of a chunk. */
interface EngineRecord {
  readonly offset: number;
  readonly text: string;
  readonly readInPlace: boolean;
  readonly decisions: readonly Decision[];
}

/**
 * Runs a chunk through the decode stage's line framing into `checkRawRecord`, once per rule set. The chunk sits
 * inside a larger buffer with other bytes around it, as a file source's reused read buffer does.
 */
function runEngine(chunk: Buffer, firstOffset: number, dice: Dice): EngineRecord[] {
  const before = dice.int(16);
  const backing = new Uint8Array(before + chunk.length + dice.int(16)).fill(dice.pick([0x20, 0x22, 0x7d, 0x31, 0x0a]));
  backing.set(chunk, before);
  const records: EngineRecord[] = [];
  forEachRawRecord({ kind: 'lines', bytes: backing.subarray(before, before + chunk.length), firstOffset }, SOURCE, (record) => {
    const readInPlace = probe.read(record);
    const decisions = RULE_SETS.map((set) => engineDecision(checkRawRecord(record, set.rules)));
    records.push({ offset: Number(record.offset), text: record.text, readInPlace, decisions });
  });
  return records;
}

// ---------------------------------------------------------------------------------------------
// Campaign

export interface Mismatch {
  readonly seed: number;
  /** The record's bytes (its line without the `\n`). */
  readonly bytes: Buffer;
  readonly ruleSet: string;
  readonly readInPlace: boolean;
  readonly engine: Decision | string;
  readonly oracle: Decision | string;
  readonly differences: readonly string[];
}

/** Counts of one run, filled in as it goes. */
export interface FuzzReport {
  records: number;
  readInPlace: number;
  /** Oracle verdicts under the default rules, by status. */
  readonly statuses: Record<Decision['status'], number>;
  /** Of the records read in place, how many passed (the values path, not only the rejections). */
  passedInPlace: number;
  readonly mismatches: Mismatch[];
}

/** Builds a chunk of whole lines; blank lines (skipped by both sides) now and then, sometimes no final `\n`. */
function chunkBytes(lines: readonly Buffer[], dice: Dice, last: boolean): Buffer {
  const pieces: Buffer[] = [];
  for (const line of lines) {
    pieces.push(line, Buffer.from(dice.chance(0.02) ? '\n\n' : '\n'));
  }
  if (last && dice.chance(0.5)) pieces.pop();
  return Buffer.concat(pieces);
}

/**
 * Generates `lineCount` lines of seed `seed`, feeds them in chunks (ASCII chunks read in place; a chunk with a
 * non-ASCII byte anywhere is decoded as UTF-8 text) and compares every record under each rule set.
 */
export function runFuzzSeed(seed: number, lineCount: number, maxMismatches = 20): FuzzReport {
  const dice = new Dice(seed);
  const report: FuzzReport = { records: 0, readInPlace: 0, passedInPlace: 0, statuses: { passed: 0, malformed: 0, incomplete: 0, invalid: 0 }, mismatches: [] };
  let offset = 0;
  let pending: Buffer[] = [];
  const flush = (last: boolean) => {
    if (pending.length === 0) return;
    const chunk = chunkBytes(pending, dice, last);
    compareChunk(seed, chunk, offset, dice, report, maxMismatches);
    offset += chunk.length;
    pending = [];
  };
  for (let index = 0; index < lineCount; index++) {
    const line = generateLine(dice, seed, index);
    // A non-ASCII line sends the lines chunked with it down the text path: keep most chunks ASCII.
    if (!isAsciiBytes(line) && dice.chance(0.8)) flush(false);
    pending.push(line);
    if (pending.length >= 1 + dice.int(64) || !isAsciiBytes(line)) flush(false);
  }
  flush(true);
  return report;
}

function isAsciiBytes(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

function compareChunk(seed: number, chunk: Buffer, firstOffset: number, dice: Dice, report: FuzzReport, maxMismatches: number): void {
  const engine = runEngine(chunk, firstOffset, dice);
  const oracle = splitLines(chunk);
  const note = (mismatch: Mismatch) => {
    if (report.mismatches.length < maxMismatches) report.mismatches.push(mismatch);
  };
  if (engine.length !== oracle.length) {
    note({ seed, bytes: chunk, ruleSet: 'framing', readInPlace: false, engine: `${engine.length} records`, oracle: `${oracle.length} records`, differences: ['record count'] });
    return;
  }
  for (let i = 0; i < engine.length; i++) {
    const mine = engine[i]!;
    const line = oracle[i]!;
    const end = chunk.indexOf(0x0a, line.offset);
    const bytes = chunk.subarray(line.offset, end < 0 ? chunk.length : end);
    report.records++;
    if (mine.readInPlace) report.readInPlace++;
    if (mine.offset !== firstOffset + line.offset || mine.text !== line.text) {
      note({ seed, bytes, ruleSet: 'framing', readInPlace: mine.readInPlace, engine: `offset ${mine.offset} text ${JSON.stringify(mine.text)}`, oracle: `offset ${firstOffset + line.offset} text ${JSON.stringify(line.text)}`, differences: ['offset or text'] });
      continue;
    }
    RULE_SETS.forEach((set, index) => {
      const theirs = oracleDecision(line.text, checkRecord(line.text, set.config), set);
      if (index === 0) {
        report.statuses[theirs.status]++;
        if (mine.readInPlace && theirs.status === 'passed') report.passedInPlace++;
      }
      const differences = decisionDifferences(mine.decisions[index]!, theirs);
      if (differences.length > 0) note({ seed, bytes, ruleSet: set.name, readInPlace: mine.readInPlace, engine: mine.decisions[index]!, oracle: theirs, differences });
    });
  }
}

/** The differences on `bytes` as the only line of a chunk (empty when both sides agree under every rule set). */
export function lineDifferences(bytes: Buffer): string[] {
  const report: FuzzReport = { records: 0, readInPlace: 0, passedInPlace: 0, statuses: { passed: 0, malformed: 0, incomplete: 0, invalid: 0 }, mismatches: [] };
  compareChunk(0, bytes, 0, new Dice(0), report, Number.POSITIVE_INFINITY);
  return report.mismatches.flatMap((mismatch) => mismatch.differences.map((difference) => `${mismatch.ruleSet}: ${difference}`));
}

/** Shrinks a mismatching line by dropping spans of bytes while it still mismatches on its own (delta debugging). */
export function shrinkLine(bytes: Buffer, stillMismatches: (candidate: Buffer) => boolean = (candidate) => lineDifferences(candidate).length > 0): Buffer {
  if (!stillMismatches(bytes)) return bytes;
  let current = bytes;
  for (let span = current.length >> 1; span >= 1; span = span >> 1) {
    for (let start = 0; start + span <= current.length; ) {
      const candidate = Buffer.concat([current.subarray(0, start), current.subarray(start + span)]);
      if (candidate.length > 0 && stillMismatches(candidate)) current = candidate;
      else start += span;
    }
  }
  return current;
}

/** A mismatch for people: the line JSON-escaped (and its bytes when they are not ASCII), both outcomes, the differences. */
export function describeMismatch(mismatch: Mismatch): string {
  const text = mismatch.bytes.toString('utf8');
  const lines = [
    `seed ${mismatch.seed}, ${mismatch.ruleSet}, ${mismatch.readInPlace ? 'read in place' : 'parsed as text'}`,
    `  line:   ${JSON.stringify(text)}`,
    ...(isAsciiBytes(mismatch.bytes) ? [] : [`  bytes:  ${mismatch.bytes.toString('hex')}`]),
    `  engine: ${showDecision(mismatch.engine)}`,
    `  oracle: ${showDecision(mismatch.oracle)}`,
    ...mismatch.differences.map((difference) => `  - ${difference}`),
  ];
  return lines.join('\n');
}

function showDecision(decision: Decision | string): string {
  if (typeof decision === 'string') return decision;
  const values = decision.values ? ` [${decision.values.map(show).join(', ')}] late_flagged=${decision.lateFlagged} inconsistent=${decision.inconsistent}` : '';
  return `${decision.status}${decision.error === undefined ? '' : ` (${decision.error})`}${values}`;
}
