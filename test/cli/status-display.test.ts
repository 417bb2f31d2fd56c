// The live status line on a terminal, with alert lines printed on stdout to the same terminal meanwhile.

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { terminalStatus } from '../../runtime/cli/status-line.js';

/** What a terminal shows for the bytes of both streams, in the order written: \r, ESC[2K (clear line) and \n. */
class Screen {
  readonly lines: string[] = [''];
  private column = 0;

  /** `width`: columns of the terminal, which wraps text written past the last one onto a new row (0: never). */
  constructor(private readonly width = 0) {}

  feed(text: string): void {
    for (let i = 0; i < text.length; i++) {
      if (text.startsWith('\x1b[2K', i)) {
        this.lines[this.lines.length - 1] = '';
        i += 3;
      } else if (text[i] === '\r') this.column = 0;
      else if (text[i] === '\n') {
        this.lines.push('');
        this.column = 0;
      } else {
        if (this.width > 0 && this.column === this.width) {
          this.lines.push('');
          this.column = 0;
        }
        const line = this.lines[this.lines.length - 1]!;
        this.lines[this.lines.length - 1] = line.slice(0, this.column) + text[i] + line.slice(this.column + 1);
        this.column++;
      }
    }
  }

  stream(): NodeJS.WriteStream {
    const stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.feed(chunk.toString());
        callback();
      },
      decodeStrings: true,
    });
    return Object.assign(stream, { isTTY: true, columns: this.width }) as unknown as NodeJS.WriteStream;
  }
}

const ALERT_1 = '20:03:09 HIGH     whale        SOL-USDT@binance       A sell of 5008 SOL worth 901,708.20 USDT.';
const ALERT_2 = '20:03:10 CRITICAL whale        BTC-USDT@binance       A sell of 17.79 BTC worth 1,192,396.02 USDT.';

describe('terminalStatus', () => {
  it('keeps every alert line whole and the status line below them', () => {
    const screen = new Screen();
    const err = screen.stream();
    const out = screen.stream();
    const display = terminalStatus(err, out);

    display.show('1s | 11,952 records | 9,902/s | watermark lag 0.7s');
    out.write(`${ALERT_1}\n`);
    display.show('2s | 23,964 records | 12,000/s | watermark lag 0.7s | anomaly_alerts 1');
    // Worker threads' stdout reaches the main thread as Buffers.
    out.write(Buffer.from(`${ALERT_2}\n`));

    expect(screen.lines).toEqual([ALERT_1, ALERT_2, '2s | 23,964 records | 12,000/s | watermark lag 0.7s | anomaly_alerts 1']);

    display.end();
    out.write('stopped coat-tail-all: {}\n');
    expect(screen.lines).toEqual([ALERT_1, ALERT_2, '2s | 23,964 records | 12,000/s | watermark lag 0.7s | anomaly_alerts 1', 'stopped coat-tail-all: {}', '']);
  });

  it('stays on one row of a terminal narrower than the line, updating in place', () => {
    // The live default's line names every table: ~160 columns, twice an 80-column terminal.
    const status = (seconds: number) =>
      `${seconds}s | 14,803 records | 199/s | watermark lag 0.8s | alerts-console 2, anomaly_alerts 2, exchange_spreads 8, volume_aggregates 4, whale_trades 2, dlq 39`;
    const screen = new Screen(80);
    const out = screen.stream();
    const display = terminalStatus(screen.stream(), out);
    display.show(status(1));
    display.show(status(2));
    out.write(`${ALERT_1.slice(0, 70)}\n`);
    display.show(status(3));

    expect(screen.lines).toHaveLength(2);
    expect(screen.lines[0]).toBe(ALERT_1.slice(0, 70));
    expect(screen.lines[1]!.length).toBeLessThan(80);
    expect(screen.lines[1]).toMatch(/^3s \| 14,803 records \| 199\/s \| watermark lag 0\.8s \| alerts-console 2, /);
  });

  it('leaves stdout as it was when it is not the terminal', () => {
    const screen = new Screen();
    const err = screen.stream();
    const display = terminalStatus(err);
    display.show('1s | 10 records | 10/s');
    display.show('2s | 20 records | 10/s');
    display.end();
    expect(screen.lines).toEqual(['2s | 20 records | 10/s', '']);
  });

  it('gives stdout back its own write when the run ends', () => {
    const screen = new Screen();
    const out = screen.stream();
    const before = out.write;
    const display = terminalStatus(screen.stream(), out);
    expect(out.write).not.toBe(before);
    display.end();
    expect(out.write).toBe(before);
  });
});
