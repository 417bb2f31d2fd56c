// A columnar batch layout for the parsed trade schema, to compare with the engine's generic codecs: numbers
// as Float64 columns, repeated strings (exchange, symbol, side) as indexes into a per-batch string table,
// unique strings (event_id) as one joined text with offsets; all in one transferable ArrayBuffer.

/** A trade after parsing, with epoch-millisecond times (what the benchmark jobs send to subtasks). */
export interface TradeRecord {
  event_id: string;
  exchange: string;
  symbol: string;
  price: number;
  quantity: number;
  quote_volume: number;
  side: string;
  timestamp: number;
  ingestion_timestamp: number;
}

const NUMBER_FIELDS = ['price', 'quantity', 'quote_volume', 'timestamp', 'ingestion_timestamp'] as const;
const TABLE_FIELDS = ['exchange', 'symbol', 'side'] as const;
const HEADER_WORDS = 8;
const FLAG_IDS_ASCII = 1;
const FLAG_TABLE_ASCII = 2;

interface Layout {
  readonly numbers: number;
  readonly indexes: number;
  readonly idOffsets: number;
  readonly tableOffsets: number;
  readonly idText: number;
  readonly tableText: number;
  readonly total: number;
}

const align = (offset: number, to: number) => Math.ceil(offset / to) * to;

function layoutFor(count: number, tableCount: number, idBytes: number, tableBytes: number): Layout {
  const numbers = HEADER_WORDS * 4;
  const indexes = numbers + NUMBER_FIELDS.length * count * 8;
  const idOffsets = align(indexes + TABLE_FIELDS.length * count * 2, 4);
  const tableOffsets = idOffsets + (count + 1) * 4;
  const idText = tableOffsets + (tableCount + 1) * 4;
  const tableText = idText + idBytes;
  return { numbers, indexes, idOffsets, tableOffsets, idText, tableText, total: tableText + tableBytes };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a batch into a fresh ArrayBuffer (safe to transfer). Missing numbers travel as NaN. */
export function encodeTrades(records: readonly TradeRecord[]): ArrayBuffer {
  const count = records.length;
  const table = new Map<string, number>();
  const tableStrings: string[] = [];
  const indexes = new Uint16Array(TABLE_FIELDS.length * count);
  const idOffsets = new Uint32Array(count + 1);
  let ids = '';
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    for (let f = 0; f < TABLE_FIELDS.length; f++) {
      const value = record[TABLE_FIELDS[f]!];
      let index = table.get(value);
      if (index === undefined) {
        index = tableStrings.length;
        if (index > 0xffff) throw new Error('columnar batch: more than 65536 distinct exchange/symbol/side values');
        table.set(value, index);
        tableStrings.push(value);
      }
      indexes[f * count + i] = index;
    }
    ids += record.event_id;
    idOffsets[i + 1] = ids.length;
  }
  const tableOffsets = new Uint32Array(tableStrings.length + 1);
  let tableText = '';
  tableStrings.forEach((value, index) => {
    tableText += value;
    tableOffsets[index + 1] = tableText.length;
  });
  const idBytes = Buffer.byteLength(ids, 'utf8');
  const tableBytes = Buffer.byteLength(tableText, 'utf8');
  const layout = layoutFor(count, tableStrings.length, idBytes, tableBytes);
  const buffer = new ArrayBuffer(layout.total);
  const header = new Uint32Array(buffer, 0, HEADER_WORDS);
  header[0] = count;
  header[1] = tableStrings.length;
  header[2] = idBytes;
  header[3] = tableBytes;
  header[4] = (idBytes === ids.length ? FLAG_IDS_ASCII : 0) | (tableBytes === tableText.length ? FLAG_TABLE_ASCII : 0);
  const numbers = new Float64Array(buffer, layout.numbers, NUMBER_FIELDS.length * count);
  for (let f = 0; f < NUMBER_FIELDS.length; f++) {
    const field = NUMBER_FIELDS[f]!;
    const base = f * count;
    for (let i = 0; i < count; i++) {
      const value = records[i]![field];
      numbers[base + i] = typeof value === 'number' ? value : Number.NaN;
    }
  }
  new Uint16Array(buffer, layout.indexes, indexes.length).set(indexes);
  new Uint32Array(buffer, layout.idOffsets, count + 1).set(idOffsets);
  new Uint32Array(buffer, layout.tableOffsets, tableOffsets.length).set(tableOffsets);
  encoder.encodeInto(ids, new Uint8Array(buffer, layout.idText, idBytes));
  encoder.encodeInto(tableText, new Uint8Array(buffer, layout.tableText, tableBytes));
  return buffer;
}

function text(buffer: ArrayBuffer, offset: number, length: number, ascii: boolean): string {
  // latin1 is a straight byte-to-char copy, much cheaper than UTF-8 decoding; exact when the text is ASCII.
  return ascii ? Buffer.from(buffer, offset, length).toString('latin1') : decoder.decode(new Uint8Array(buffer, offset, length));
}

/** Decodes a batch back into trade objects, as the operators downstream expect them. */
export function decodeTrades(buffer: ArrayBuffer): TradeRecord[] {
  const header = new Uint32Array(buffer, 0, HEADER_WORDS);
  const count = header[0]!;
  const tableCount = header[1]!;
  const layout = layoutFor(count, tableCount, header[2]!, header[3]!);
  const flags = header[4]!;
  const numbers = new Float64Array(buffer, layout.numbers, NUMBER_FIELDS.length * count);
  const indexes = new Uint16Array(buffer, layout.indexes, TABLE_FIELDS.length * count);
  const idOffsets = new Uint32Array(buffer, layout.idOffsets, count + 1);
  const tableOffsets = new Uint32Array(buffer, layout.tableOffsets, tableCount + 1);
  const ids = text(buffer, layout.idText, header[2]!, (flags & FLAG_IDS_ASCII) !== 0);
  const tableText = text(buffer, layout.tableText, header[3]!, (flags & FLAG_TABLE_ASCII) !== 0);
  const table: string[] = new Array(tableCount);
  for (let t = 0; t < tableCount; t++) table[t] = tableText.slice(tableOffsets[t]!, tableOffsets[t + 1]!);
  const records: TradeRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    records[i] = {
      event_id: ids.slice(idOffsets[i]!, idOffsets[i + 1]!),
      exchange: table[indexes[i]!]!,
      symbol: table[indexes[count + i]!]!,
      price: numbers[i]!,
      quantity: numbers[count + i]!,
      quote_volume: numbers[2 * count + i]!,
      side: table[indexes[2 * count + i]!]!,
      timestamp: numbers[3 * count + i]!,
      ingestion_timestamp: numbers[4 * count + i]!,
    };
  }
  return records;
}
