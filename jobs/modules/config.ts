// The Coat Tail job configuration (config/features.yaml): one zod schema, SPEC defaults, one-line errors.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CoattailError } from '../../runtime/errors.js';
import { parseDuration as parseRuntimeDuration, type Duration } from '../../runtime/time/duration.js';

export interface QualityFeatures {
  readonly symbols?: readonly string[];
  readonly futureClockToleranceMs: number;
  readonly lateFlagMs: number;
  readonly inconsistencyTolerance: number;
  /** Keep-first dedup remembers an event_id for this much event time. */
  readonly dedupHorizonMs: number;
}

export interface VolumeFeatures {
  readonly enabled: boolean;
  readonly windowMs: number;
  readonly delayMs: number;
  /** Earlier windows whose start is within this of the current start form the z-score history. */
  readonly historyMs: number;
  readonly minHistory: number;
  readonly zThreshold: number;
  readonly zHigh: number;
}

export interface WhaleThresholds {
  /** quote_volume above this is a whale (medium). */
  readonly threshold: number;
  readonly high: number;
  readonly critical: number;
}

export interface WhaleFeatures extends WhaleThresholds {
  readonly enabled: boolean;
}

export interface SpreadFeatures {
  readonly enabled: boolean;
  readonly windowMs: number;
  readonly delayMs: number;
  readonly exchangeA: string;
  readonly exchangeB: string;
  readonly thresholdPct: number;
  readonly highPct: number;
}

export interface Features {
  readonly quality: QualityFeatures;
  readonly source: { readonly idleTimeoutMs: number };
  readonly volume: VolumeFeatures;
  readonly whale: WhaleFeatures;
  readonly spread: SpreadFeatures;
}

/** Milliseconds for `500ms`, `30s`, `5m`, `1h`, `1d` or a plain number of milliseconds. */
export function parseDuration(value: Duration, what = 'duration'): number {
  return parseRuntimeDuration(value, what);
}

// "finite": zod refuses YAML's .inf too, and "must be a number > 0" read wrong for it.
const numberAbove = (minimum: number) =>
  z.number({ error: `must be a finite number > ${minimum}` }).gt(minimum, { error: `must be a finite number > ${minimum}` });
const numberAtLeast = (minimum: number) =>
  z.number({ error: `must be a finite number >= ${minimum}` }).gte(minimum, { error: `must be a finite number >= ${minimum}` });
const positiveInteger = z.int({ error: 'must be a whole number >= 1' }).gte(1, { error: 'must be a whole number >= 1' });
const flag = z.boolean({ error: 'must be true or false' });
const name = z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' });

/**
 * The longest duration a setting takes (about 273 years). Far beyond any real window, delay or horizon, and a window
 * this long still ends at a time the tables can write for every event time SPEC accepts: a window of 1e23 ms was
 * accepted and failed the run in a subtask ("timestamp column window_end needs epoch milliseconds").
 */
const MAX_DURATION_DAYS = 100_000;

/** A duration written as `60s`, `500ms`, `1h` or milliseconds (whole); `positive` rejects zero. */
const duration = (positive: boolean) =>
  z.union([z.number(), z.string()], { error: 'must be a duration such as 500ms, 30s, 5m, 1h or a number of milliseconds' })
    .transform((value, context) => {
      let ms: number;
      try {
        ms = parseRuntimeDuration(value);
      } catch {
        context.addIssue({ code: 'custom', message: 'must be a duration such as 500ms, 30s, 5m, 1h or a number of milliseconds' });
        return z.NEVER;
      }
      if (positive && ms <= 0) {
        context.addIssue({ code: 'custom', message: 'must be a duration > 0' });
        return z.NEVER;
      }
      // Window bounds and timers count whole milliseconds: a 0.5 ms window started and ended at the same instant.
      if (!Number.isInteger(ms)) {
        context.addIssue({ code: 'custom', message: 'must be a whole number of milliseconds' });
        return z.NEVER;
      }
      if (ms > MAX_DURATION_DAYS * 86_400_000) {
        context.addIssue({ code: 'custom', message: `must be a duration of at most ${MAX_DURATION_DAYS}d` });
        return z.NEVER;
      }
      return ms;
    });

const SECTION = { error: 'must be a mapping of settings' };

const qualitySchema = z.strictObject({
  // `|` joins symbol and exchange into the volume job's key: a symbol holding one could share another's windows.
  symbols: z
    .array(name.refine((symbol) => !symbol.includes('|'), { error: 'must not contain "|"' }), { error: 'must be a list of symbols' })
    .min(1, { error: 'must list at least one symbol' })
    .optional(),
  future_clock_tolerance: duration(false).default(5 * 60_000),
  late_flag_after: duration(false).default(5 * 60_000),
  inconsistency_tolerance: numberAtLeast(0).default(0.001),
  dedup_horizon: duration(true).default(3_600_000),
}, SECTION);

const sourceSchema = z.strictObject({
  idle_timeout: duration(true).default(30_000),
}, SECTION);

const volumeSchema = z
  .strictObject({
    enabled: flag.default(true),
    window: duration(true).default(60_000),
    delay: duration(false).default(30_000),
    history: duration(true).default(3_600_000),
    min_history: positiveInteger.default(10),
    z_threshold: numberAbove(0).default(2.5),
    z_high: numberAbove(0).default(3.5),
  }, SECTION)
  .refine((v) => v.z_high >= v.z_threshold, { message: 'must be >= volume.z_threshold', path: ['z_high'] });

const whaleSchema = z
  .strictObject({
    enabled: flag.default(true),
    threshold: numberAbove(0).default(100_000),
    high: numberAbove(0).default(500_000),
    critical: numberAbove(0).default(1_000_000),
  }, SECTION)
  // The values in the message: a changed threshold alone can make the default high the one out of order.
  .superRefine((v, context) => {
    if (v.threshold <= v.high && v.high <= v.critical) return;
    context.addIssue({
      code: 'custom',
      path: ['high'],
      message: `must be between whale.threshold and whale.critical (threshold ${v.threshold}, high ${v.high}, critical ${v.critical})`,
    });
  });

const spreadSchema = z
  .strictObject({
    enabled: flag.default(true),
    window: duration(true).default(30_000),
    delay: duration(false).default(15_000),
    exchange_a: name.default('binance'),
    exchange_b: name.default('coinbase'),
    threshold_pct: numberAbove(0).default(0.5),
    high_pct: numberAbove(0).default(1.0),
  }, SECTION)
  .refine((v) => v.exchange_a !== v.exchange_b, { message: 'must differ from spread.exchange_a', path: ['exchange_b'] })
  .refine((v) => v.high_pct >= v.threshold_pct, { message: 'must be >= spread.threshold_pct', path: ['high_pct'] });

const featuresSchema = z.strictObject({
  quality: qualitySchema.prefault({}),
  source: sourceSchema.prefault({}),
  volume: volumeSchema.prefault({}),
  whale: whaleSchema.prefault({}),
  spread: spreadSchema.prefault({}),
}, { error: 'must be a mapping of sections (quality, source, volume, whale, spread)' });

type FeaturesFile = z.output<typeof featuresSchema>;

function toFeatures(file: FeaturesFile): Features {
  const quality: QualityFeatures = {
    ...(file.quality.symbols ? { symbols: Object.freeze([...file.quality.symbols]) } : {}),
    futureClockToleranceMs: file.quality.future_clock_tolerance,
    lateFlagMs: file.quality.late_flag_after,
    inconsistencyTolerance: file.quality.inconsistency_tolerance,
    dedupHorizonMs: file.quality.dedup_horizon,
  };
  return deepFreeze({
    quality,
    source: { idleTimeoutMs: file.source.idle_timeout },
    volume: {
      enabled: file.volume.enabled,
      windowMs: file.volume.window,
      delayMs: file.volume.delay,
      historyMs: file.volume.history,
      minHistory: file.volume.min_history,
      zThreshold: file.volume.z_threshold,
      zHigh: file.volume.z_high,
    },
    whale: {
      enabled: file.whale.enabled,
      threshold: file.whale.threshold,
      high: file.whale.high,
      critical: file.whale.critical,
    },
    spread: {
      enabled: file.spread.enabled,
      windowMs: file.spread.window,
      delayMs: file.spread.delay,
      exchangeA: file.spread.exchange_a,
      exchangeB: file.spread.exchange_b,
      thresholdPct: file.spread.threshold_pct,
      highPct: file.spread.high_pct,
    },
  });
}

/** Validates an already-parsed configuration document; `label` prefixes error messages (usually the file path). */
export function parseFeatures(document: unknown, label = 'config'): Features {
  const result = featuresSchema.safeParse(withEmptySections(document ?? {}));
  if (!result.success) {
    const problems = result.error.issues.map((issue) => describeIssue(issue));
    throw new CoattailError('BAD_CONFIG', `${label}: ${problems.join('; ')}`);
  }
  return toFeatures(result.data);
}

/** The SPEC defaults, as if config/features.yaml were empty. */
export function defaultFeatures(): Features {
  return parseFeatures({}, 'defaults');
}

const REPO_CONFIG_CANDIDATES = [
  '../../config/features.yaml', // jobs/modules/config.ts run from source
  '../../../config/features.yaml', // dist/jobs/modules/config.js
];

/**
 * Loads and validates a features file. Without a path, the repository's config/features.yaml (found next
 * to this module's source or build output) is used, and the built-in defaults when it cannot be found.
 */
export function loadFeatures(path?: string): Features {
  if (path === undefined) {
    for (const candidate of REPO_CONFIG_CANDIDATES) {
      const file = fileURLToPath(new URL(candidate, import.meta.url));
      if (existsSync(file)) return readFeaturesFile(file, 'config/features.yaml');
    }
    return defaultFeatures();
  }
  if (!existsSync(path)) throw new CoattailError('FILE_NOT_FOUND', `config file not found: ${path}`);
  return readFeaturesFile(path, path);
}

function readFeaturesFile(file: string, label: string): Features {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new CoattailError('BAD_CONFIG', `${label}: not valid YAML (${detail})`, { cause: error });
  }
  if (document !== null && document !== undefined && (typeof document !== 'object' || Array.isArray(document))) {
    throw new CoattailError('BAD_CONFIG', `${label}: must be a mapping of sections (quality, source, volume, whale, spread)`);
  }
  return parseFeatures(document, label);
}

/** `volume:` with nothing under it reads as null in YAML; treat it as an empty section, not an error. */
function withEmptySections(document: unknown): unknown {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return document;
  const copy: Record<string, unknown> = { ...(document as Record<string, unknown>) };
  for (const [key, value] of Object.entries(copy)) if (value === null) delete copy[key];
  return copy;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => (path ? `${path}.${key}` : key));
    return `unknown key${keys.length === 1 ? '' : 's'} ${keys.join(', ')}`;
  }
  // Messages written above start with "must ..."; zod's own (rare here) read fine after the path too.
  return path ? `${path} ${issue.message}` : issue.message;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
