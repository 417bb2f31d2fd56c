// Seeded lines for the quality fuzzer (quality-fuzz.ts): mostly trade lines mutated in their members, their text and
// their bytes, some random JSON values. The same seed and index give the same bytes on every machine.

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: the same seed gives the same lines on every machine, so a failure names a replayable line. */
export class Dice {
  private state: number;
  constructor(seed: number) {
    this.state = (Math.imul(seed, 0x9e3779b9) ^ 0x85ebca6b) >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}

// ---------------------------------------------------------------------------------------------
// Values: field values as JSON text, valid, near-valid and broken

export const FIELDS = ['event_id', 'exchange', 'symbol', 'price', 'quantity', 'quote_volume', 'side', 'timestamp', 'ingestion_timestamp'] as const;

/** The allow-list of the second rule set: symbols the pattern rejects too, and one only JSON escapes can spell. */
export const ALLOWED_SYMBOLS: readonly string[] = Object.freeze(['BTC-USDT', 'ETH-USDT', 'btc-usdt', '', 'X', 'ÉTH-USDT', 'BTC-USDT ', 'A"B', 'SOL\u0000USDT']);

const T0 = Date.UTC(2025, 1, 5, 10, 0, 0);
const EXCHANGES = ['binance', 'coinbase', 'kraken', 'okx', 'bybit'];
const SYMBOLS = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT', 'DOGE-USDT', 'AB-CD', 'ABCDEFGHIJ-0123456789'];
const NUMBER_FORMS = [
  '0', '-0', '0.0', '-0.0', '0e0', '-0E-0', '1', '-1', '1.0', '10', '1e400', '-1e400', '1E-400', '1e-400', '0.1e+2', '1e-7',
  '1E+2', '5e-324', '4.9e-324', '2.2250738585072014e-308', '1.7976931348623157e308', '1.7976931348623159e308',
  '9007199254740993', '9007199254740992.5', '0.30000000000000004', '123456789012345', '1234567890123456',
  '999999999999999.9', '0.000000000000000000001', '0.0000000000000000000001', '1738749600000', '1738749600000.999',
  '01', '-01', '00', '.5', '-.5', '+1', 'NaN', 'Infinity', '-Infinity', '1.', '1.e5', '1e', '1e+', '-', '--1', '0x10',
  '1_000', '1,5', '٣', '１', '0.5.1', '1e5.5', '-e5',
];
const SIDES = ['"buy"', '"sell"', '"BUY"', '"Buy"', '"bu\\u0079"', '"s\\u0065ll"', '" buy"', '"buy "', '""', '"hold"', '1', 'true', '"b\\uD800"'];
const ISO_FORMS = [
  '2025-02-30T10:30:00Z', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2000-02-29T12:00:00Z', '2100-02-29T00:00:00Z',
  '2025-02-05T24:00:00Z', '2025-02-05T10:60:00Z', '2025-02-05T10:30:60Z', '2025-02-05 10:30:00Z', '2025-02-05T10:30:00z',
  '2025-02-05t10:30:00Z', '2025-02-05T10:30:00', '2025-02-05T10:30Z', '2025-02-05T10:30:00.Z', '2025-02-05T10:30:00.1234567890123Z',
  '2025-02-05T10:30:00+05:30', '2025-02-05T10:30:00+0530', '2025-02-05T10:30:00+24:00', '2025-02-05T10:30:00-23:59',
  '2025-02-05T10:30:00+05:60', '0000-01-01T00:00:00Z', '0000-01-01T00:00:00+00:01', '0000-01-01T00:00:00-00:01',
  '9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999-00:01', '+002025-02-05T10:30:00Z', '2025-2-5T10:30:00Z',
  '1970-01-01T00:00:00Z', '1969-12-31T23:59:59.9999Z', '2025-13-01T00:00:00Z', '2025-00-10T00:00:00Z', '2025-01-00T00:00:00Z',
  '2025-02-05T10:30:00.000Z ', ' 2025-02-05T10:30:00.000Z', '2025-02-05T10:30:00.000\\u005a', '２025-02-05T10:30:00Z',
  '2025-02-05T10:30:00.000Z\\u0000', '2025-02-05T10:30:00.-1Z', '2025-02-05T10:30:00,5Z', '2025-02-05T10:30:00.5+00:00',
];
const TIME_NUMBERS = [
  '-0.5', '-1000.5', '0', '-0', '1.5e12', '1e20', '253402300800000', '253402300799999', '253402300799999.9', '-62167219200000',
  '-62167219200001', '-62167219200000.5', '1738749600000.0001', '1e400', '"1738749600000"', 'true', '[]', '{}',
];
const NEAR_KEYS = [
  'pric', 'prices', 'price ', ' price', 'Price', 'PRICE', 'event_i', 'event_idx', 'eventid', 'event-id', 'symbo', 'symbols',
  'side_', 'sid', 'timestamp_ms', 'timestam', 'timestamps', 'ingestion', 'ingestion_timestamp_', 'quote_volum', 'quote_volumes',
  'exchang', 'exchanges', '', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'p\\u0072ice', 'sid\\u0065',
  'event_id\\u0000', 'é', 'a\\"b', 'trade', 'data',
];
const BAD_TOKENS = ['undefined', 'nul', 'tru', 'fals', "'x'", '{', '[', '}', ']', ',', ':', '""""', 'True', 'None', '+', '/**/1'];
const PLAIN_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:/+!#$%&()*;<=>?@[]^`{|}~\x7f';
const ESCAPES = ['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u0041', '\\u00e9', '\\u0000', '\\u001f', '\\u2028', '\\uFEFF', '\\ud83d\\ude00', '\\uD800', '\\udc00', '\\uDBFF\\uDFFF', '\\u0022'];
const BROKEN_ESCAPES = ['\\x41', '\\u12', '\\u12G4', "\\'", '\\a', '\\U0041', '\\', '\\0'];
const RAW_ODDITIES = ['\t', '\x00', '\x01', '\x1f', '\r', 'é', '😀', '\u2028', '\ufffd', '\ufeff', '\u00a0'];

function digits(dice: Dice, count: number): string {
  let text = '';
  // Zeros and nines weigh more: they sit on the edges of rounding and of the reader's exact fast path.
  for (let i = 0; i < count; i++) text += dice.chance(0.3) ? dice.pick(['0', '9']) : String(dice.int(10));
  return text;
}

/** A JSON number's text by the grammar, sometimes just off it. */
function randomNumberText(dice: Dice): string {
  const sign = dice.chance(0.15) ? '-' : '';
  const integer = dice.chance(0.35) ? '0' : String(1 + dice.int(9)) + digits(dice, dice.chance(0.1) ? 15 + dice.int(10) : dice.int(8));
  const fraction = dice.chance(0.6) ? '.' + digits(dice, dice.chance(0.15) ? 14 + dice.int(12) : 1 + dice.int(9)) : '';
  const exponent = dice.chance(0.15) ? dice.pick(['e', 'E']) + dice.pick(['', '+', '-']) + digits(dice, 1 + dice.int(3)) : '';
  const text = sign + integer + fraction + exponent;
  if (!dice.chance(0.05)) return text;
  return dice.pick([`0${text}`, `${text}.`, `${text}e`, `+${text}`, `${sign}.${digits(dice, 3)}`, text.replace('.', '')]);
}

function numberText(dice: Dice): string {
  const roll = dice.next();
  if (roll < 0.35) return dice.pick(NUMBER_FORMS);
  if (roll < 0.38) return String(1 + dice.int(9)) + digits(dice, 300 + dice.int(100)) + (dice.chance(0.5) ? '.' + digits(dice, 50) : '');
  return randomNumberText(dice);
}

/** A JSON string literal (quotes included) with escapes, odd characters and now and then something JSON forbids. */
function randomStringText(dice: Dice): string {
  let text = '"';
  const length = dice.int(12);
  for (let i = 0; i < length; i++) {
    const roll = dice.next();
    if (roll < 0.7) text += dice.pick([...PLAIN_CHARS]);
    else if (roll < 0.88) text += dice.pick(ESCAPES);
    else if (roll < 0.97) text += dice.pick(RAW_ODDITIES);
    else text += dice.pick(BROKEN_ESCAPES);
  }
  return dice.chance(0.01) ? text : `${text}"`;
}

/** `text` as a JSON literal with some characters escaped: the same string to JSON.parse, not to a byte reader. */
function escapedStringText(dice: Dice, text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (dice.chance(0.25)) out += escapeCodePoint(dice, code);
    else out += char;
  }
  return `${out}"`;
}

function escapeCodePoint(dice: Dice, code: number): string {
  const hex = (unit: number) => {
    const text = unit.toString(16).padStart(4, '0');
    return `\\u${dice.chance(0.5) ? text.toUpperCase() : text}`;
  };
  if (code === 0x2f && dice.chance(0.5)) return '\\/';
  if (code < 0x10000) return hex(code);
  const offset = code - 0x10000;
  return hex(0xd800 + (offset >> 10)) + hex(0xdc00 + (offset & 0x3ff));
}

/** Any JSON value's text (nested up to `depth`), sometimes a token JSON does not know. */
function randomValueText(dice: Dice, depth: number): string {
  const roll = dice.next();
  if (roll < 0.3) return numberText(dice);
  if (roll < 0.55) return randomStringText(dice);
  if (roll < 0.65) return dice.pick(['true', 'false', 'null']);
  if (roll < 0.95 && depth < 3) {
    const count = dice.int(4);
    if (roll < 0.8) return writeObject(Array.from({ length: count }, () => [randomKey(dice), randomValueText(dice, depth + 1)]), dice, true);
    return `[${Array.from({ length: count }, () => randomValueText(dice, depth + 1)).join(spaced(dice, ','))}]`;
  }
  return dice.pick(BAD_TOKENS);
}

function randomKey(dice: Dice): string {
  const roll = dice.next();
  if (roll < 0.4) return dice.pick(FIELDS);
  if (roll < 0.8) return dice.pick(NEAR_KEYS);
  return randomStringText(dice).slice(1, -1);
}

function isoText(dice: Dice, ms: number): string {
  const iso = new Date(ms).toISOString();
  const roll = dice.next();
  if (roll < 0.5) return iso;
  if (roll < 0.6) return iso.replace('Z', '000Z');
  if (roll < 0.7) return iso.slice(0, 19) + 'Z';
  if (roll < 0.75) return iso.slice(0, 21) + 'Z';
  const minutes = dice.pick([0, 120, -300, 330, -210, 1439, -1439]);
  const sign = minutes < 0 || (minutes === 0 && dice.chance(0.5)) ? '-' : '+';
  const zone = `${sign}${String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0')}:${String(Math.abs(minutes) % 60).padStart(2, '0')}`;
  return new Date(ms + minutes * 60_000).toISOString().replace('Z', zone);
}

/** A time's JSON text: epoch milliseconds or an ISO string, now and then with one character changed. */
function timeText(dice: Dice, ms: number): string {
  if (dice.chance(0.5)) return String(ms);
  let iso = isoText(dice, ms);
  if (dice.chance(0.04)) {
    const at = dice.int(iso.length);
    iso = iso.slice(0, at) + dice.pick([...'0123456789:-+.TZ ']) + iso.slice(at + 1);
  }
  return dice.chance(0.05) ? escapedStringText(dice, iso) : `"${iso}"`;
}

const pad = (value: number, width: number): string => String(value).padStart(width, '0');

/**
 * An ISO time anywhere in (and just past) the years 0000-9999, with any fraction and offset, days up to 31 and
 * hours, minutes and seconds just past their ranges: the calendar arithmetic of both sides, not only today's dates.
 */
function randomIsoText(dice: Dice): string {
  const year = dice.chance(0.3) ? dice.pick([0, 1, 99, 100, 1600, 1900, 1969, 1970, 2000, 2100, 9999]) : dice.int(10_000);
  const month = dice.chance(0.05) ? dice.pick([0, 13]) : 1 + dice.int(12);
  const day = 1 + dice.int(dice.chance(0.8) ? 28 : 31);
  const [hour, minute, second] = [dice.int(dice.chance(0.05) ? 25 : 24), dice.int(dice.chance(0.05) ? 61 : 60), dice.int(dice.chance(0.05) ? 61 : 60)];
  const fraction = dice.chance(0.5) ? '.' + digits(dice, 1 + dice.int(12)) : '';
  const zone = dice.chance(0.4) ? 'Z' : `${dice.pick(['+', '-'])}${pad(dice.int(dice.chance(0.05) ? 25 : 24), 2)}:${pad(dice.int(dice.chance(0.05) ? 61 : 60), 2)}`;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fraction}${zone}`;
}

/** Epoch milliseconds anywhere in (and just past) the years 0000-9999, sometimes with a fraction. */
function randomEpochText(dice: Dice): string {
  const ms = -62_167_219_200_000 + Math.floor(dice.next() * 315_569_520_000_000) + dice.pick([0, 0, -1, 1]);
  return dice.chance(0.2) ? `${ms}.${digits(dice, 1 + dice.int(4))}` : String(ms);
}

function badTimeText(dice: Dice, ms: number): string {
  const roll = dice.next();
  if (roll < 0.15) return `"${randomIsoText(dice)}"`;
  if (roll < 0.25) return randomEpochText(dice);
  if (roll < 0.4) return `"${dice.pick(ISO_FORMS)}"`;
  if (roll < 0.7) return dice.pick(TIME_NUMBERS);
  if (roll < 0.85) return timeText(dice, ms + dice.pick([0.5, -0.5, 0.999]));
  return randomValueText(dice, 1);
}

function symbolText(dice: Dice): string {
  const roll = dice.next();
  if (roll < 0.3) return `"${dice.pick(SYMBOLS)}"`;
  if (roll < 0.5) return escapedStringText(dice, dice.pick(ALLOWED_SYMBOLS));
  if (roll < 0.75) {
    const part = () => Array.from({ length: 1 + dice.int(11) }, () => dice.pick([...'ABCXYZ0189az_-'])).join('');
    return `"${part()}-${part()}"`;
  }
  return randomValueText(dice, 1);
}

/** A replacement value for `field`: usually the kind of value the field takes, often one the rules must refuse. */
function fieldValueText(dice: Dice, field: string, time: number): string {
  switch (field) {
    case 'price':
    case 'quantity':
    case 'quote_volume':
      return dice.chance(0.85) ? numberText(dice) : dice.pick([`"${randomNumberText(dice)}"`, 'null', 'true', '[1]', '{"value":1}']);
    case 'side':
      return dice.chance(0.8) ? dice.pick(SIDES) : randomValueText(dice, 1);
    case 'symbol':
      return symbolText(dice);
    case 'timestamp':
    case 'ingestion_timestamp':
      return dice.chance(0.4) ? timeText(dice, time + dice.pick([0, 300_000, 300_001, -300_000, -300_001, 299_999, 3_600_000])) : badTimeText(dice, time);
    case 'event_id':
    case 'exchange':
      return dice.chance(0.5) ? escapedStringText(dice, dice.pick(['e-1', 'binance', 'é', '', ' ', 'a"b', '\u2028', '😀'])) : randomValueText(dice, 1);
    default:
      return randomValueText(dice, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Lines: trade objects as members, then mutations of members, text and bytes

/** A member as written: the key's text between its quotes (JSON escapes allowed) and the value's JSON text. */
type Member = [key: string, value: string];

const JSON_SPACE = [' ', '\t', '\r', '  ', ' \t\r '];
/** Whitespace JSON does not allow (or, for `\n`, a line break that splits the line in two). */
const OTHER_SPACE = ['\f', '\v', '\u00a0', '\u2028', '\ufeff', '\n', '\x00'];

function space(dice: Dice): string {
  if (dice.chance(0.8)) return '';
  return dice.chance(0.97) ? dice.pick(JSON_SPACE) : dice.pick(OTHER_SPACE);
}

function spaced(dice: Dice, token: string): string {
  return space(dice) + token + space(dice);
}

function writeObject(members: readonly Member[], dice: Dice, withSpace: boolean): string {
  if (!withSpace) return `{${members.map(([key, value]) => `"${key}":${value}`).join(',')}}`;
  const body = members.map(([key, value]) => `${space(dice)}"${key}"${spaced(dice, ':')}${value}${space(dice)}`).join(',');
  return `${space(dice)}{${body}${space(dice)}}${space(dice)}`;
}

/** A valid trade as the generator writes them: numeric or ISO times, optional and null optional fields. */
function tradeMembers(dice: Dice, seed: number, index: number): { members: Member[]; time: number } {
  const time = T0 + index * 37 + dice.int(1000);
  const decimals = dice.int(9);
  const price = Math.round((0.01 + dice.next() * 70_000) * 10 ** decimals) / 10 ** decimals || 1;
  const quantity = Math.round((0.0001 + dice.next() * 20) * 1e8) / 1e8 || 0.5;
  const members: Member[] = [
    ['event_id', `"f${seed}-${dice.chance(0.05) ? dice.int(index + 1) : index}"`],
    ['exchange', `"${dice.pick(EXCHANGES)}"`],
    ['symbol', `"${dice.pick(SYMBOLS)}"`],
    ['price', String(price)],
    ['quantity', String(quantity)],
  ];
  const quote = dice.next();
  if (quote < 0.3) members.push(['quote_volume', String(price * quantity)]);
  else if (quote < 0.45) members.push(['quote_volume', String(price * quantity * dice.pick([1.001, 0.999, 1.0011, 0.9989, 1.00099, 2]))]);
  else if (quote < 0.5) members.push(['quote_volume', 'null']);
  members.push(['side', dice.chance(0.5) ? '"buy"' : '"sell"'], ['timestamp', timeText(dice, time)]);
  const ingestion = dice.next();
  if (ingestion < 0.8) {
    const delay = dice.chance(0.8) ? dice.int(900) : dice.pick([300_000, 300_001, 299_999, -300_000, -300_001, -299_999, 600_000, -600_000]);
    members.push(['ingestion_timestamp', timeText(dice, time + delay)]);
  } else if (ingestion < 0.85) {
    members.push(['ingestion_timestamp', 'null']);
  }
  return { members, time };
}

type MemberMutation = (members: Member[], dice: Dice, time: number) => void;

const MEMBER_MUTATIONS: readonly MemberMutation[] = [
  function dropMember(members, dice) {
    if (members.length > 0) members.splice(dice.int(members.length), 1);
  },
  function nullMember(members, dice) {
    if (members.length > 0) members[dice.int(members.length)]![1] = 'null';
  },
  function duplicateMember(members, dice, time) {
    // The last of duplicate keys wins: sometimes the bad value comes first, sometimes last.
    const key = dice.pick(FIELDS);
    members.splice(dice.int(members.length + 1), 0, [key, fieldValueText(dice, key, time)]);
  },
  function replaceValue(members, dice, time) {
    if (members.length === 0) return;
    const member = members[dice.int(members.length)]!;
    member[1] = fieldValueText(dice, member[0], time);
  },
  function addOtherMember(members, dice) {
    members.splice(dice.int(members.length + 1), 0, [dice.pick(NEAR_KEYS), randomValueText(dice, 0)]);
  },
  function shuffle(members, dice) {
    for (let i = members.length - 1; i > 0; i--) {
      const j = dice.int(i + 1);
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
  },
  function escapeKey(members, dice) {
    if (members.length > 0) {
      const member = members[dice.int(members.length)]!;
      try {
        member[0] = escapedStringText(dice, JSON.parse(`"${member[0]}"`) as string).slice(1, -1);
      } catch {
        // A broken key stays broken.
      }
    }
  },
  function escapeValue(members, dice) {
    const strings = members.filter(([, value]) => value.startsWith('"'));
    if (strings.length === 0) return;
    const member = dice.pick(strings);
    try {
      member[1] = escapedStringText(dice, JSON.parse(member[1]) as string);
    } catch {
      // A broken literal stays broken.
    }
  },
  function nestValue(members, dice) {
    if (members.length > 0) {
      const member = members[dice.int(members.length)]!;
      member[1] = dice.chance(0.5) ? `[${member[1]}]` : `{"${dice.pick(FIELDS)}":${member[1]}}`;
    }
  },
  function renameKey(members, dice) {
    if (members.length > 0) members[dice.int(members.length)]![0] = randomKey(dice);
  },
  function widen(members, dice) {
    // More members than the reader remembers positions of (64), with keys it has never seen.
    for (let n = 30 + dice.int(90); n > 0; n--) members.splice(dice.int(members.length + 1), 0, [`k${dice.int(1000)}`, dice.chance(0.5) ? String(dice.int(100)) : '"v"']);
  },
];

type TextMutation = (text: string, dice: Dice) => string;

const TEXT_MUTATIONS: readonly TextMutation[] = [
  (text) => text.replace(/}(\s*)$/, ',}$1'),
  (text) => text.replace(/}(\s*)$/, '$1'),
  (text, dice) => text + dice.pick(['x', ' x', '}', ',', '{}', ' {}', text, ` ${text}`, 'null', '\x00', '\ufeff', ' //c', '\r', '\r\r', '\t', ' \r\t ', '\f']),
  (text, dice) => dice.pick(['\ufeff', 'x', ',', '[', ' ', '\t\r', '\r', '\x00', '\u00a0']) + text,
  (text) => `[${text}]`,
  (text, dice) => text.slice(0, dice.int(text.length + 1)),
  (text, dice) => replaceOne(text, dice, ':', dice.pick(['=', '::', ''])),
  (text, dice) => replaceOne(text, dice, ',', dice.pick(['', ',,', ';', ' '])),
  (text, dice) => replaceOne(text, dice, '"', "'"),
  (text) => text.replace('{', '{/*c*/'),
  (text, dice) => `{"${dice.pick(['trade', 'data', 'price'])}":${text}}`,
];

function replaceOne(text: string, dice: Dice, search: string, replacement: string): string {
  const positions: number[] = [];
  for (let at = text.indexOf(search); at >= 0; at = text.indexOf(search, at + 1)) positions.push(at);
  if (positions.length === 0) return text;
  const at = dice.pick(positions);
  return text.slice(0, at) + replacement + text.slice(at + search.length);
}

const ODD_BYTES = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x2d, 0x2e, 0x30, 0x31, 0x39, 0x3a, 0x45, 0x5b, 0x5c, 0x5d, 0x65, 0x7b, 0x7d, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf8, 0xff];
const ODD_SEQUENCES = [[0xef, 0xbb, 0xbf], [0xed, 0xa0, 0x80], [0xc3, 0xa9], [0xf0, 0x9f, 0x98, 0x80], [0xc0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]];

/** One byte-level edit: insert, delete, replace, duplicate a span, or insert a UTF-8 sequence (valid or not). */
function mutateBytes(bytes: Buffer, dice: Dice): Buffer {
  const at = dice.int(bytes.length + 1);
  const roll = dice.next();
  let middle: Buffer;
  let skip = 0;
  if (roll < 0.3) middle = Buffer.from([dice.pick(ODD_BYTES)]);
  else if (roll < 0.5) middle = Buffer.from(dice.pick(ODD_SEQUENCES));
  else if (roll < 0.7) [middle, skip] = [Buffer.alloc(0), 1];
  else if (roll < 0.9) [middle, skip] = [Buffer.from([dice.chance(0.5) ? dice.pick(ODD_BYTES) : dice.int(256)]), 1];
  else middle = bytes.subarray(at, at + 1 + dice.int(12));
  return Buffer.concat([bytes.subarray(0, at), middle, bytes.subarray(Math.min(bytes.length, at + skip))]);
}

/** Line `index` of seed `seed`'s stream (never empty; it may hold a `\n`, which makes it two records). */
export function generateLine(dice: Dice, seed: number, index: number): Buffer {
  const roll = dice.next();
  let text: string;
  if (roll < 0.1) {
    text = dice.chance(0.6) ? writeObject(Array.from({ length: dice.int(12) }, () => [randomKey(dice), randomValueText(dice, 1)]), dice, dice.chance(0.5)) : randomValueText(dice, 0);
  } else {
    const { members, time } = tradeMembers(dice, seed, index);
    const mutated = roll >= 0.35;
    if (mutated) for (let n = 1 + dice.int(3); n > 0; n--) dice.pick(MEMBER_MUTATIONS)(members, dice, time);
    text = writeObject(members, dice, dice.chance(0.3));
    if (mutated && dice.chance(0.15)) text = dice.pick(TEXT_MUTATIONS)(text, dice);
  }
  let bytes: Buffer = Buffer.from(text, 'utf8');
  if (roll >= 0.35 && dice.chance(0.12)) for (let n = 1 + dice.int(2); n > 0; n--) bytes = mutateBytes(bytes, dice);
  return bytes.length === 0 || bytes.every((byte) => byte === 0x0a) ? Buffer.from(' ') : bytes;
}

