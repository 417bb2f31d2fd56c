// Maps exchange-native market names to the unified `BASE-QUOTE` symbol, and pairs markets for the spread job.

/**
 * Quote assets Binance lists, longest first so that `BTCFDUSD` splits as `BTC-FDUSD` and `BTCTUSD` as
 * `BTC-TUSD` rather than on a shorter suffix. A Binance symbol carries no separator, so the quote can
 * only be recognised from a list like this one; markets quoted in anything else must be written with a
 * dash (`ABC-XYZ`) to be accepted.
 */
export const BINANCE_QUOTE_ASSETS: readonly string[] = [
  'FDUSD',
  'USDT', 'USDC', 'BUSD', 'TUSD', 'USDP', 'AEUR', 'EURI', 'BIDR', 'IDRT', 'BVND',
  'BTC', 'ETH', 'BNB', 'XRP', 'TRX', 'DOGE', 'DAI', 'PAX', 'VAI',
  'EUR', 'TRY', 'GBP', 'BRL', 'AUD', 'JPY', 'RUB', 'UAH', 'NGN', 'ZAR', 'PLN', 'RON', 'ARS', 'MXN', 'COP', 'CZK',
  'USD',
].sort((a, b) => b.length - a.length);

const SYMBOL_PART = /^[A-Z0-9]{1,20}$/;

/**
 * `BTCUSDT` → `BTC-USDT`; `btc-usdt` → `BTC-USDT`; `undefined` when no known quote asset ends the symbol
 * (or nothing is left for the base).
 */
export function binanceToUnifiedSymbol(binanceSymbol: string): string | undefined {
  const upper = binanceSymbol.toUpperCase();
  if (upper.includes('-')) {
    const [base, quote, ...rest] = upper.split('-');
    if (rest.length > 0 || !base || !quote || !SYMBOL_PART.test(base) || !SYMBOL_PART.test(quote)) return undefined;
    return `${base}-${quote}`;
  }
  if (!SYMBOL_PART.test(upper)) return undefined;
  for (const quote of BINANCE_QUOTE_ASSETS) {
    if (upper.endsWith(quote) && upper.length > quote.length) {
      return `${upper.slice(0, -quote.length)}-${quote}`;
    }
  }
  return undefined;
}

/** `BTC-USDT` or `btcusdt` → `btcusdt`, the lower-case form Binance stream names use. */
export function binanceStreamSymbol(symbol: string): string {
  return symbol.replace('-', '').toLowerCase();
}

/** Coinbase product ids already are `BASE-QUOTE`; only the case is normalised. `undefined` if not that shape. */
export function coinbaseToUnifiedSymbol(productId: string): string | undefined {
  const upper = productId.toUpperCase();
  const [base, quote, ...rest] = upper.split('-');
  if (rest.length > 0 || !base || !quote || !SYMBOL_PART.test(base) || !SYMBOL_PART.test(quote)) return undefined;
  return upper;
}

/**
 * Quote assets the spread job may treat as the same currency. Binance has almost no USD markets and
 * Coinbase almost no USDT ones, so a BTC spread between them compares `BTC-USDT` with `BTC-USD`.
 * Treating USDT (and USDC) as USD ignores the stablecoin's own deviation from its peg — usually
 * well under 0.1 %, against a 0.5 % alert threshold — which is why it is a setting, not a rule.
 */
export const DEFAULT_SPREAD_QUOTE_ALIASES: Readonly<Record<string, string>> = { USDT: 'USD', USDC: 'USD' };

/**
 * The key under which the spread job should group a market so that equivalent markets of two exchanges
 * meet: with the default aliases both `BTC-USDT` (Binance) and `BTC-USD` (Coinbase) give `BTC-USD`.
 * Pass `{}` to pair only identical symbols. Symbols that are not `BASE-QUOTE` are returned unchanged.
 */
export function spreadPairSymbol(
  symbol: string,
  quoteAliases: Readonly<Record<string, string>> = DEFAULT_SPREAD_QUOTE_ALIASES,
): string {
  const dash = symbol.lastIndexOf('-');
  if (dash <= 0 || dash === symbol.length - 1) return symbol;
  const base = symbol.slice(0, dash);
  const quote = symbol.slice(dash + 1);
  const alias = Object.prototype.hasOwnProperty.call(quoteAliases, quote) ? quoteAliases[quote] : undefined;
  return alias === undefined ? symbol : `${base}-${alias}`;
}
