// Local stand-ins for Binance's combined trade stream and Coinbase's websocket feed, scripted by tests.

import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';

interface FakeConnection {
  readonly socket: WebSocket;
  /** Path and query the client asked for, e.g. `/stream?streams=btcusdt@trade`. */
  readonly request: string;
  silent: boolean;
  subscribed: boolean;
}

/** Polls until `predicate` holds; fails with `what` after 10 s so a broken test names what it waited for. */
export async function waitUntil(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

abstract class FakeExchange {
  protected readonly server: WebSocketServer;
  protected readonly connections: FakeConnection[] = [];
  private keepAliveTimer?: NodeJS.Timeout;

  protected constructor(readonly port: number, server: WebSocketServer) {
    this.server = server;
    server.on('connection', (socket, request) => {
      const connection: FakeConnection = { socket, request: request.url ?? '', silent: false, subscribed: false };
      this.connections.push(connection);
      socket.on('message', (data) => this.onClientMessage(connection, String(data)));
    });
  }

  protected static async listen(): Promise<{ server: WebSocketServer; port: number }> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return { server, port: (server.address() as AddressInfo).port };
  }

  protected abstract onClientMessage(connection: FakeConnection, text: string): void;
  /** The periodic frame that proves the connection alive (a ping, a heartbeat). */
  protected abstract keepAlive(connection: FakeConnection): void;

  /** Every connection ever accepted, in order. */
  get connectionCount(): number {
    return this.connections.length;
  }

  get openConnectionCount(): number {
    return this.connections.filter((c) => c.socket.readyState === WebSocket.OPEN).length;
  }

  /** Whether the connection accepted `index`-th (from 0) is still open. */
  isOpen(index: number): boolean {
    return this.connections[index]?.socket.readyState === WebSocket.OPEN;
  }

  get requests(): string[] {
    return this.connections.map((c) => c.request);
  }

  /** Sends a liveness frame to every live, non-silent connection each `intervalMs`. */
  startKeepAlive(intervalMs: number): void {
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = setInterval(() => {
      for (const connection of this.live()) this.keepAlive(connection);
    }, intervalMs);
  }

  /** From now on, the connections open at this moment get nothing; later connections behave normally. */
  goSilent(): void {
    for (const connection of this.connections) connection.silent = true;
  }

  /** A server-side disconnect without a close handshake, as when an exchange's load balancer cuts a link. */
  dropConnections(): void {
    for (const connection of this.connections) connection.socket.terminate();
  }

  /** Sends a frame verbatim (garbage, control messages) to every live connection, or only the newest. */
  sendRaw(text: string, only: 'newest' | 'all' = 'all'): void {
    const targets = only === 'newest' ? this.live().slice(-1) : this.live();
    for (const connection of targets) connection.socket.send(text);
  }

  async close(): Promise<void> {
    clearInterval(this.keepAliveTimer);
    for (const connection of this.connections) connection.socket.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  protected live(): FakeConnection[] {
    return this.connections.filter((c) => !c.silent && c.socket.readyState === WebSocket.OPEN && this.isReady(c));
  }

  protected isReady(_connection: FakeConnection): boolean {
    return true;
  }
}

export interface FakeBinanceTrade {
  readonly symbol: string;
  readonly price?: string;
  readonly quantity?: string;
  readonly buyerIsMaker?: boolean;
  readonly tradeTime?: number;
  readonly tradeId?: number;
}

/** Binance's `/stream?streams=...` endpoint: trades arrive wrapped as `{stream, data}`. */
export class FakeBinance extends FakeExchange {
  private readonly nextTradeId = new Map<string, number>();

  static async start(): Promise<FakeBinance> {
    const { server, port } = await FakeExchange.listen();
    return new FakeBinance(port, server);
  }

  /** What to give the source as `url`; it appends `?streams=`. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/stream`;
  }

  /** Sends one trade payload (ids count up per symbol from 1000) and returns it. */
  sendTrade(trade: FakeBinanceTrade, only: 'newest' | 'all' = 'all'): Record<string, unknown> {
    const symbol = trade.symbol.toUpperCase();
    const tradeId = trade.tradeId ?? this.nextTradeId.get(symbol) ?? 1000;
    this.nextTradeId.set(symbol, tradeId + 1);
    const tradeTime = trade.tradeTime ?? Date.now();
    const data = {
      e: 'trade', E: tradeTime + 1, s: symbol, t: tradeId, p: trade.price ?? '50000.10', q: trade.quantity ?? '0.25',
      T: tradeTime, m: trade.buyerIsMaker ?? false, M: true,
    };
    this.sendRaw(JSON.stringify({ stream: `${symbol.toLowerCase()}@trade`, data }), only);
    return data;
  }

  /** Sends a ping with this payload to the newest connection and resolves with the pong's payload. */
  ping(payload: string): Promise<string> {
    const connection = this.live().at(-1);
    if (!connection) return Promise.reject(new Error('no live connection to ping'));
    return new Promise((resolve) => {
      connection.socket.once('pong', (data) => resolve(String(data)));
      connection.socket.ping(payload);
    });
  }

  protected onClientMessage(): void {
    // The combined stream is chosen by URL; nothing the client sends matters here.
  }

  protected keepAlive(connection: FakeConnection): void {
    connection.socket.ping();
  }
}

export interface FakeCoinbaseMatch {
  readonly product: string;
  /** The MAKER order's side, as Coinbase reports it. */
  readonly side: 'buy' | 'sell';
  readonly price?: string;
  readonly size?: string;
  readonly time?: string;
  readonly type?: 'match' | 'last_match';
}

/** Coinbase Exchange's feed: waits for a subscribe, acknowledges it, then sends matches and heartbeats. */
export class FakeCoinbase extends FakeExchange {
  readonly subscribeMessages: unknown[] = [];
  private readonly lastTradeId = new Map<string, number>();
  private readonly sequence = new Map<string, number>();
  private rejection?: string;

  static async start(): Promise<FakeCoinbase> {
    const { server, port } = await FakeExchange.listen();
    return new FakeCoinbase(port, server);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The next subscribe is answered with an `error` message instead of `subscriptions`. */
  rejectSubscriptions(reason: string): void {
    this.rejection = reason;
  }

  /**
   * Sends a match with the product's next trade id. The sequence advances by 5 per match, as on the real
   * feed, where the order-book messages between two matches take sequence numbers too.
   */
  sendMatch(match: FakeCoinbaseMatch): Record<string, unknown> {
    const tradeId = (this.lastTradeId.get(match.product) ?? 500) + 1;
    this.lastTradeId.set(match.product, tradeId);
    const sequence = this.advanceSequence(match.product, 5);
    const message = {
      type: match.type ?? 'match', trade_id: tradeId, sequence,
      maker_order_id: `maker-${tradeId}`, taker_order_id: `taker-${tradeId}`,
      time: match.time ?? new Date().toISOString().replace('Z', '123Z'),
      product_id: match.product, size: match.size ?? '0.5', price: match.price ?? '3000.25', side: match.side,
    };
    this.sendRaw(JSON.stringify(message));
    return message;
  }

  /** Lets `count` trades of the product happen without sending them: the client sees a trade id gap. */
  skipTrades(product: string, count: number): void {
    this.lastTradeId.set(product, (this.lastTradeId.get(product) ?? 500) + count);
    this.advanceSequence(product, 5 * count);
  }

  protected override isReady(connection: FakeConnection): boolean {
    return connection.subscribed;
  }

  protected onClientMessage(connection: FakeConnection, text: string): void {
    const message = JSON.parse(text) as { type?: string; product_ids?: string[]; channels?: string[] };
    if (message.type !== 'subscribe') return;
    this.subscribeMessages.push(message);
    if (this.rejection !== undefined) {
      connection.socket.send(JSON.stringify({ type: 'error', message: 'Failed to subscribe', reason: this.rejection }));
      this.rejection = undefined;
      return;
    }
    connection.subscribed = true;
    const productIds = message.product_ids ?? [];
    connection.socket.send(JSON.stringify({
      type: 'subscriptions',
      channels: (message.channels ?? []).map((name) => ({ name, product_ids: productIds })),
    }));
  }

  protected keepAlive(connection: FakeConnection): void {
    for (const [product, lastTradeId] of this.lastTradeId.size > 0 ? this.lastTradeId : new Map([['BTC-USD', 0]])) {
      connection.socket.send(JSON.stringify({
        type: 'heartbeat', sequence: this.sequence.get(product) ?? 0, last_trade_id: lastTradeId,
        product_id: product, time: new Date().toISOString(),
      }));
    }
  }

  private advanceSequence(product: string, by: number): number {
    const next = (this.sequence.get(product) ?? 10_000) + by;
    this.sequence.set(product, next);
    return next;
  }
}
