// The normalized trade every Coat Tail detector consumes, and the event-time parser shared by quality checks.

export type Side = 'buy' | 'sell';

export interface Trade {
  event_id: string;
  exchange: string;
  symbol: string;
  price: number;
  quantity: number;
  /** The given `quote_volume`, or `price * quantity` when it was absent or null. */
  quote_volume: number;
  side: Side;
  /** Event time, epoch milliseconds. */
  timestamp: number;
  /** When the producer received the trade, epoch milliseconds; null when absent. */
  ingestion_timestamp: number | null;
}

/**
 * Event times lie in the years ISO-8601's four-digit form can name, 0000-9999 UTC, whichever form they came
 * in: window ends, partitions (`date=YYYY-MM-DD`) and Parquet timestamps of such times are all writable.
 */
const MIN_EPOCH_MS = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const END_EPOCH_MS = 253_402_300_800_000; // 10000-01-01T00:00:00Z, excluded

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Epoch milliseconds of an event time, or undefined when the value is not one of the accepted forms:
 * - a JSON number of epoch milliseconds (sub-millisecond digits are truncated, as for ISO fractions);
 * - an ISO-8601 string `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)` naming a real calendar date.
 */
export function parseEventTime(value: unknown): number | undefined {
  let time: number | undefined;
  if (typeof value === 'number') time = Math.floor(value);
  else if (typeof value === 'string') time = parseIsoTimestamp(value);
  return time !== undefined && time >= MIN_EPOCH_MS && time < END_EPOCH_MS ? time : undefined; // also rejects NaN
}

/**
 * The date and hour ("YYYY-MM-DDTHH") last parsed, and its local epoch milliseconds: trades arrive roughly in
 * time order, so most share it and only minutes, seconds, fraction and zone are left to read.
 */
let lastHourPrefix = '';
let lastHourMs = 0;

/** A char-code parser: several times cheaper than a regular expression plus Date.UTC on the hot path. */
function parseIsoTimestamp(text: string): number | undefined {
  const length = text.length;
  // Shortest accepted form: 2025-02-05T10:30:00Z (20 chars); fractions may have any number of digits.
  if (length < 20) return undefined;
  let hourMs: number;
  if (lastHourPrefix.length !== 0 && text.startsWith(lastHourPrefix)) {
    hourMs = lastHourMs;
  } else {
    const parsed = parseDateAndHour(text);
    if (parsed === undefined) return undefined;
    hourMs = parsed;
    lastHourPrefix = text.slice(0, 13);
    lastHourMs = parsed;
  }
  const minute = twoDigits(text, 14);
  const second = twoDigits(text, 17);
  if ((minute | second) < 0 || minute > 59 || second > 59) return undefined;
  if (text.charCodeAt(13) !== 58 /* : */ || text.charCodeAt(16) !== 58) return undefined;

  let position = 19;
  let millisecond = 0;
  if (text.charCodeAt(position) === 46 /* . */) {
    position++;
    const fractionStart = position;
    let code = text.charCodeAt(position);
    while (code >= 48 && code <= 57) {
      // Only the first three digits matter: finer precision is truncated to the millisecond.
      const place = position - fractionStart;
      if (place < 3) millisecond += (code - 48) * (place === 0 ? 100 : place === 1 ? 10 : 1);
      code = text.charCodeAt(++position);
    }
    if (position === fractionStart) return undefined;
  }

  let offsetMinutes = 0;
  const zone = text.charCodeAt(position);
  if (zone === 90 /* Z */) {
    if (position + 1 !== length) return undefined;
  } else if (zone === 43 /* + */ || zone === 45 /* - */) {
    if (position + 6 !== length || text.charCodeAt(position + 3) !== 58) return undefined;
    const offsetHours = twoDigits(text, position + 1);
    const offsetMins = twoDigits(text, position + 4);
    if (offsetHours < 0 || offsetMins < 0 || offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (offsetHours * 60 + offsetMins) * (zone === 45 ? -1 : 1);
  } else {
    return undefined;
  }

  const localMs = hourMs + minute * 60_000 + second * 1000 + millisecond;
  return localMs - offsetMinutes * 60_000;
}

/** Local epoch milliseconds of "YYYY-MM-DDTHH" at the start of `text`, or undefined if that is not a real hour. */
function parseDateAndHour(text: string): number | undefined {
  const century = twoDigits(text, 0);
  const yearOfCentury = twoDigits(text, 2);
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const hour = twoDigits(text, 11);
  // twoDigits is negative for a non-digit; one OR of the parts tests them all.
  if ((century | yearOfCentury | month | day | hour) < 0) return undefined;
  if (text.charCodeAt(4) !== 45 /* - */ || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 /* T */) return undefined;
  const year = century * 100 + yearOfCentury;
  if (month < 1 || month > 12 || day < 1 || hour > 23) return undefined;
  if (day > 28 && day > daysInMonth(year, month)) return undefined;
  return (daysFromCivil(year, month, day) * 24 + hour) * 3_600_000;
}

/** The value of the two ASCII digits at `start`, or -1 if either is not a digit (or is past the end). */
function twoDigits(text: string, start: number): number {
  const tens = text.charCodeAt(start) - 48;
  const ones = text.charCodeAt(start + 1) - 48;
  // NaN past the end fails both comparisons, hence the explicit `>= 0` form.
  if (!(tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9)) return -1;
  return tens * 10 + ones;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1]!;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm; no Date.UTC year quirks). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
