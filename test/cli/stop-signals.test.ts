// After a run's work is done, a stop signal while the process winds down ends it with the run's own status
// (a stopped Kinesis run stays up about half a second for its client's sockets).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const STOP_SIGNALS = new URL('../../dist/runtime/cli/stop-signals.js', import.meta.url).href;

/** A process that installs (or not) the end-of-run handlers, stays up, and gets `signal` once it says so. */
function signalledExit(script: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `${script}\nsetTimeout(() => {}, 20_000);\nconsole.log('ready');`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.once('data', () => child.kill(signal));
    child.once('error', reject);
    child.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal }));
  });
}

describe('endOnStopSignals', () => {
  it('ends the process with status 0 on SIGINT or SIGTERM instead of dying by the signal', async () => {
    const script = `const { endOnStopSignals } = await import(${JSON.stringify(STOP_SIGNALS)}); endOnStopSignals();`;
    expect(await signalledExit(script, 'SIGINT')).toEqual({ code: 0, signal: null });
    expect(await signalledExit(script, 'SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('keeps an exit status already set', async () => {
    const script = `const { endOnStopSignals } = await import(${JSON.stringify(STOP_SIGNALS)}); endOnStopSignals(); process.exitCode = 3;`;
    expect(await signalledExit(script, 'SIGINT')).toEqual({ code: 3, signal: null });
  });

  it('is what makes the difference: without it the signal ends the process', async () => {
    expect(await signalledExit(`await import(${JSON.stringify(STOP_SIGNALS)});`, 'SIGINT')).toEqual({ code: null, signal: 'SIGINT' });
  });
});
