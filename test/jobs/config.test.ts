import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultFeatures, loadFeatures, parseDuration, parseFeatures } from '../../jobs/modules/config.js';
import { isCoattailError } from '../../runtime/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'coattail-config-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

function errorOf(action: () => unknown): { code: string; message: string } {
  try {
    action();
  } catch (error) {
    if (isCoattailError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected an error');
}

describe('features configuration', () => {
  it('defaults to the SPEC numbers', () => {
    expect(defaultFeatures()).toEqual({
      quality: { futureClockToleranceMs: 300_000, lateFlagMs: 300_000, inconsistencyTolerance: 0.001, dedupHorizonMs: 3_600_000 },
      source: { idleTimeoutMs: 30_000 },
      volume: { enabled: true, windowMs: 60_000, delayMs: 30_000, historyMs: 3_600_000, minHistory: 10, zThreshold: 2.5, zHigh: 3.5 },
      whale: { enabled: true, threshold: 100_000, high: 500_000, critical: 1_000_000 },
      spread: { enabled: true, windowMs: 30_000, delayMs: 15_000, exchangeA: 'binance', exchangeB: 'coinbase', thresholdPct: 0.5, highPct: 1 },
    });
  });

  it("loads the repository's config/features.yaml when no path is given, which spells out the defaults", () => {
    expect(loadFeatures()).toEqual(defaultFeatures());
  });

  it('reads durations, partial sections and a symbol list from a file, keeping defaults elsewhere', () => {
    const path = writeConfig('custom.yaml', [
      'quality:', '  symbols: [BTC-USDT, ETH-USDT]', 'volume:', '  window: 2m', '  delay: 45000', 'spread:', '  enabled: false', '  delay: 500ms', 'source:',
    ].join('\n'));
    const features = loadFeatures(path);
    expect(features.quality.symbols).toEqual(['BTC-USDT', 'ETH-USDT']);
    expect([features.volume.windowMs, features.volume.delayMs, features.volume.zThreshold]).toEqual([120_000, 45_000, 2.5]);
    expect([features.spread.enabled, features.spread.delayMs, features.spread.windowMs]).toEqual([false, 500, 30_000]);
    expect(features.source.idleTimeoutMs).toBe(30_000);
    expect(Object.isFrozen(features.volume)).toBe(true);
  });

  it('treats an empty file as all defaults', () => {
    expect(loadFeatures(writeConfig('empty.yaml', '# nothing\n'))).toEqual(defaultFeatures());
  });

  it.each<[string, unknown, string]>([
    ['a negative threshold', { volume: { z_threshold: -1 } }, 'x.yaml: volume.z_threshold must be a finite number > 0'],
    ['an infinite threshold (YAML .inf)', { whale: { threshold: Infinity } }, 'x.yaml: whale.threshold must be a finite number > 0'],
    ['a string threshold', { whale: { threshold: '100000' } }, 'x.yaml: whale.threshold must be a finite number > 0'],
    ['a bad duration', { spread: { window: 'soon' } }, 'x.yaml: spread.window must be a duration such as 500ms, 30s, 5m, 1h or a number of milliseconds'],
    ['a zero window', { volume: { window: '0s' } }, 'x.yaml: volume.window must be a duration > 0'],
    ['a window of half a millisecond', { volume: { window: 0.5 } }, 'x.yaml: volume.window must be a whole number of milliseconds'],
    ['a window no timestamp can end', { volume: { window: 1e23 } }, 'x.yaml: volume.window must be a duration of at most 100000d'],
    ['a delay beyond any event time', { spread: { delay: '1000000d' } }, 'x.yaml: spread.delay must be a duration of at most 100000d'],
    ['a fractional history count', { volume: { min_history: 2.5 } }, 'x.yaml: volume.min_history must be a whole number >= 1'],
    ['a misspelt key', { volume: { z_treshold: 3 } }, 'x.yaml: unknown key volume.z_treshold'],
    ['an unknown section', { alerts: {} }, 'x.yaml: unknown key alerts'],
    ['a section that is not a mapping', { whale: 5 }, 'x.yaml: whale must be a mapping of settings'],
    ['the same exchange twice', { spread: { exchange_b: 'binance' } }, 'x.yaml: spread.exchange_b must differ from spread.exchange_a'],
    ['unordered whale thresholds', { whale: { high: 2_000_000 } }, 'x.yaml: whale.high must be between whale.threshold and whale.critical (threshold 100000, high 2000000, critical 1000000)'],
    ['a threshold above the default high', { whale: { threshold: 2e6 } }, 'x.yaml: whale.high must be between whale.threshold and whale.critical (threshold 2000000, high 500000, critical 1000000)'],
    ['z_high below z_threshold', { volume: { z_high: 2 } }, 'x.yaml: volume.z_high must be >= volume.z_threshold'],
    ['an empty symbol list', { quality: { symbols: [] } }, 'x.yaml: quality.symbols must list at least one symbol'],
    ['a symbol with the key separator', { quality: { symbols: ['BTC-USDT', 'A|B'] } }, 'x.yaml: quality.symbols.1 must not contain "|"'],
    ['a flag that is not a boolean', { volume: { enabled: 'yes' } }, 'x.yaml: volume.enabled must be true or false'],
    ['a list at the top', [1], 'x.yaml: must be a mapping of sections (quality, source, volume, whale, spread)'],
  ])('rejects %s with a message naming the key', (_name, document, message) => {
    expect(errorOf(() => parseFeatures(document, 'x.yaml'))).toEqual({ code: 'BAD_CONFIG', message });
  });

  it('reports every problem of a file on one line', () => {
    const path = writeConfig('two.yaml', 'volume:\n  z_threshold: 0\n  window: abc\n');
    const { message } = errorOf(() => loadFeatures(path));
    expect(message).toBe(`${path}: volume.window must be a duration such as 500ms, 30s, 5m, 1h or a number of milliseconds; volume.z_threshold must be a finite number > 0`);
    expect(message).not.toContain('\n');
  });

  it('says so when the file is missing or is not YAML', () => {
    expect(errorOf(() => loadFeatures(join(directory, 'nope.yaml')))).toEqual({ code: 'FILE_NOT_FOUND', message: `config file not found: ${join(directory, 'nope.yaml')}` });
    const broken = writeConfig('broken.yaml', 'volume: [unclosed\n');
    const error = errorOf(() => loadFeatures(broken));
    expect(error.code).toBe('BAD_CONFIG');
    expect(error.message).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid YAML \\(`));
  });
});

describe('parseDuration', () => {
  it('reads the units people write and plain milliseconds', () => {
    expect([parseDuration('500ms'), parseDuration('30s'), parseDuration('5m'), parseDuration('1h'), parseDuration(1500), parseDuration('250')]).toEqual([
      500, 30_000, 300_000, 3_600_000, 1500, 250,
    ]);
  });

  it('rejects what is not a duration', () => {
    expect(() => parseDuration('ten seconds')).toThrow(/must look like/);
    expect(() => parseDuration(-1)).toThrow(/non-negative/);
  });
});
