// One live exchange feed as a split reader: a websocket that reconnects by itself, buffered into record chunks.

import WebSocket from 'ws';
import type { SourceChunk, SplitPosition, SplitReader } from '../../../runtime/api/source.js';
import { CoattailError } from '../../../runtime/errors.js';
import { resolveFeedSettings, type FeedSettings, type LiveFeedOptions } from './feed-options.js';
import type { FeedStats } from './feed-stats.js';

/** What one text frame means to the reader. */
export type FrameVerdict =
  | { readonly kind: 'record'; readonly text: string }
  | { readonly kind: 'skip' }
  /** The exchange announced it will close this connection: rotate to a new one now. */
  | { readonly kind: 'rotate' }
  /** A fault no reconnect can fix (a rejected subscription): the split fails with this message. */
  | { readonly kind: 'fail'; readonly message: string };

/** State a protocol keeps about one connection (a fresh object per connection). */
export interface FeedSession {
  /** Set by the protocol once the exchange has confirmed the subscription on this connection. */
  acknowledged: boolean;
}

/** The exchange-specific half of a feed. */
export interface FeedProtocol {
  /** `binance`, `coinbase`: the start of every error message. */
  readonly name: string;
  readonly url: string;
  /** Sends the subscription, for exchanges that take one after the connection opens. */
  onOpen(socket: WebSocket): void;
  /** Decides what a text frame is; called in arrival order, for the active connection only. */
  classify(text: string, receivedAt: number, session: FeedSession): FrameVerdict;
}

interface Connection {
  readonly socket: WebSocket;
  readonly session: FeedSession;
  receivedAny: boolean;
  silenceTimer?: NodeJS.Timeout;
  ageTimer?: NodeJS.Timeout;
}

/** setTimeout fires at once for delays beyond 2^31 - 1 ms (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Reads one feed for the engine. Offsets are a per-split record counter: 0, 1, 2... in delivery order,
 * continued from the restored position after a restore (the exchanges cannot replay, so a restore
 * resumes live, and the counter only keeps offsets unique within the split for DLQ provenance).
 */
export class LiveFeedReader implements SplitReader {
  private readonly texts: string[] = [];
  private readonly offsets: number[] = [];
  private nextOffset: number;
  private active?: Connection;
  /** The connection being opened to replace `active` (planned rotation); takes over on its first frame. */
  private standby?: Connection;
  private failedAttempts = 0;
  /** Whether any connection of this reader has delivered a frame: until then a wrong URL or no network is likelier. */
  private everDelivered = false;
  private lastError = '';
  private reconnectTimer?: NodeJS.Timeout;
  private failure?: CoattailError;
  private closed = false;
  private wakeUp?: () => void;
  private lastRecordAt = Date.now();
  private readonly settings: FeedSettings;

  constructor(
    private readonly protocol: FeedProtocol,
    private readonly stats: FeedStats,
    options: LiveFeedOptions & { silenceTimeoutMs: number },
    from: SplitPosition | undefined,
  ) {
    this.settings = resolveFeedSettings(options);
    this.nextOffset = typeof from === 'number' && Number.isSafeInteger(from) && from >= 0 ? from : 0;
    this.active = this.connect();
  }

  async next(): Promise<SourceChunk | undefined> {
    if (this.failure) throw this.failure;
    if (this.texts.length === 0 && !this.closed) await this.waitForData();
    if (this.failure) throw this.failure;
    if (this.closed && this.texts.length === 0) return undefined;
    const count = Math.min(this.texts.length, this.settings.maxChunkRecords);
    const texts = this.texts.splice(0, count);
    const offsets = this.offsets.splice(0, count);
    const active = this.active;
    if (active?.socket.isPaused && this.texts.length <= this.settings.maxBufferedRecords / 2) {
      active.socket.resume();
      this.armSilenceTimer(active);
    }
    return { payload: { kind: 'records', texts, offsets }, endPosition: this.nextOffset - this.texts.length };
  }

  isIdle(): boolean {
    return this.texts.length === 0 && Date.now() - this.lastRecordAt >= this.settings.idleAfterMs;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    for (const connection of [this.active, this.standby]) if (connection) this.discard(connection);
    this.active = undefined;
    this.standby = undefined;
    this.wakeUp?.();
  }

  private waitForData(): Promise<void> {
    return new Promise((resolve) => {
      const poll = this.settings.pollIntervalMs;
      const timer = poll > 0 ? setTimeout(() => this.wakeUp?.(), poll) : undefined;
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  private connect(): Connection {
    const socket = new WebSocket(this.protocol.url, { handshakeTimeout: this.settings.silenceTimeoutMs });
    const connection: Connection = { socket, session: { acknowledged: false }, receivedAny: false };
    socket.on('open', () => {
      this.stats.connectionsOpened += 1;
      this.armSilenceTimer(connection);
      connection.ageTimer = setTimeout(() => this.rotate(), Math.min(this.settings.maxConnectionAgeMs, MAX_TIMER_MS));
      this.protocol.onOpen(socket);
    });
    // ws answers pings with a pong carrying the same payload by itself (autoPong); a ping still proves life.
    socket.on('ping', () => this.armSilenceTimer(connection));
    socket.on('message', (data, isBinary) => this.onFrame(connection, isBinary ? data : String(data)));
    socket.on('error', (error) => {
      this.lastError = error.message;
    });
    socket.on('close', (code) => {
      if (!this.lastError && code !== 1000) this.lastError = `connection closed with code ${code}`;
      this.onLost(connection);
    });
    return connection;
  }

  private onFrame(connection: Connection, data: WebSocket.RawData | string): void {
    if (this.closed) return;
    const text = typeof data === 'string' ? data : Buffer.concat(asBuffers(data)).toString('utf8');
    if (connection === this.standby) this.promoteStandby();
    if (connection !== this.active) return;
    if (!connection.receivedAny) {
      connection.receivedAny = true;
      this.everDelivered = true;
      this.failedAttempts = 0;
    }
    this.armSilenceTimer(connection);
    this.stats.framesReceived += 1;
    const receivedAt = Date.now();
    const verdict = this.protocol.classify(text, receivedAt, connection.session);
    switch (verdict.kind) {
      case 'record':
        this.texts.push(verdict.text);
        this.offsets.push(this.nextOffset++);
        this.lastRecordAt = receivedAt;
        if (this.texts.length >= this.settings.maxBufferedRecords) this.pauseForBackpressure(connection);
        this.wakeUp?.();
        return;
      case 'skip':
        return;
      case 'rotate':
        this.rotate();
        return;
      case 'fail':
        this.fail(new CoattailError('SOURCE_FAILED', `${this.protocol.name} feed: ${verdict.message}`));
        return;
    }
  }

  /** Make-before-break: the old connection keeps delivering until the new one has sent its first frame. */
  private rotate(): void {
    if (this.closed || this.standby || !this.active) return;
    this.stats.plannedReconnects += 1;
    this.standby = this.connect();
  }

  private promoteStandby(): void {
    const old = this.active;
    this.active = this.standby;
    this.standby = undefined;
    if (old) this.discard(old);
  }

  private onLost(connection: Connection): void {
    this.clearTimers(connection);
    if (this.closed) return;
    if (connection === this.standby) {
      // A failed rotation leaves the old connection in place; its own age or the exchange will end it.
      this.standby = undefined;
      return;
    }
    if (connection !== this.active) return;
    this.active = undefined;
    if (!connection.receivedAny) this.failedAttempts += 1;
    // A feed that never delivered gives up after a few attempts (seconds), not the minutes a long outage deserves.
    const limit = this.everDelivered ? this.settings.maxAttempts : Math.min(this.settings.maxInitialAttempts, this.settings.maxAttempts);
    if (this.failedAttempts >= limit) {
      const reason = this.lastError ? ` (last error: ${this.lastError})` : '';
      this.fail(new CoattailError('SOURCE_FAILED',
        `${this.protocol.name} feed: cannot connect to ${this.protocol.url} after ${this.failedAttempts} attempts${reason}`));
      return;
    }
    if (this.standby) {
      this.promoteStandby();
      return;
    }
    this.stats.reconnects += 1;
    const ceiling = Math.min(this.settings.maxDelayMs, this.settings.initialDelayMs * 2 ** this.failedAttempts);
    // Equal jitter: at least half the backoff, so many clients cut at once do not return in lockstep.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.reconnectTimer = setTimeout(() => {
      this.lastError = '';
      if (!this.closed) this.active = this.connect();
    }, delay);
  }

  private armSilenceTimer(connection: Connection): void {
    clearTimeout(connection.silenceTimer);
    if (connection.socket.isPaused) return;
    connection.silenceTimer = setTimeout(() => {
      this.stats.silenceTimeouts += 1;
      this.lastError = `no message for ${this.settings.silenceTimeoutMs} ms`;
      connection.socket.terminate();
    }, this.settings.silenceTimeoutMs);
  }

  /** Bounded memory: stop reading (TCP pushes back on the exchange) until the engine catches up. */
  private pauseForBackpressure(connection: Connection): void {
    clearTimeout(connection.silenceTimer);
    connection.socket.pause();
  }

  private fail(error: CoattailError): void {
    if (this.failure) return;
    this.failure = error;
    void this.close();
  }

  private discard(connection: Connection): void {
    this.clearTimers(connection);
    connection.socket.removeAllListeners();
    connection.socket.on('error', () => undefined);
    connection.socket.terminate();
  }

  private clearTimers(connection: Connection): void {
    clearTimeout(connection.silenceTimer);
    clearTimeout(connection.ageTimer);
  }
}

function asBuffers(data: WebSocket.RawData): Buffer[] {
  if (Array.isArray(data)) return data;
  return [Buffer.isBuffer(data) ? data : Buffer.from(data)];
}
