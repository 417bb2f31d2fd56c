// A columnar batch encoding for records that are flat objects of a few recurring shapes (parsed trades,
// quality verdicts, rows): per shape, numbers travel as Float64 columns, strings as one text with offsets
// or as indexes into a per-batch dictionary when they repeat, and anything else as a msgpack array of the
// column's values. Text is exact, lone surrogates included (msgpack turns those into U+FFFD). Records of no shape (strings, arrays, class instances, too many shapes) travel as one
// msgpack array. Decoding builds each shape's objects with a generated constructor, so every decoded
// record of a shape has the same hidden class and key order as the object that was encoded.

import { Packr, Unpackr } from 'msgpackr';

/** The first word of a columnar batch; anything else is not one. */
const MAGIC = 0xc01a_0001;
/** More shapes than this in one batch: the batch is not columnar-friendly, send it as msgpack. */
const MAX_SHAPES = 16;
/** A string column stays a dictionary while its distinct values are at most this share of its rows. */
const DICTIONARY_SHARE = 0.25;
const NO_SHAPE = 255;

type ColumnKind = 'f64' | 'text' | 'dict' | 'any';

/** What the decoder needs to find one column's sections; offsets are from the start of the batch. */
interface ColumnDescriptor {
  k: ColumnKind;
  /** f64: the values; text: the text; dict: the dictionary's text; any: the msgpack bytes. */
  o: number;
  l: number;
  /** text/dict: Uint32 offsets into the text (rows + 1, or dictionary entries + 1). */
  so?: number;
  /** dict: Uint16/Uint32 index per row, and how many dictionary entries. */
  io?: number;
  wide?: boolean;
  n?: number;
  /** text/dict: the bytes are ASCII, so latin1 decoding is exact. */
  ascii?: boolean;
}

interface BatchDescriptor {
  count: number;
  /** Offset of the shape id per record (Uint8); absent when every record has shape 0. */
  shapeIds?: number;
  shapes: Array<{ keys: string[]; rows: number; columns: ColumnDescriptor[] }>;
  /** Records of no shape, in order, as one msgpack array. */
  rest?: { o: number; l: number };
}

/** A section waiting to be copied into the batch buffer. */
interface Section {
  /** Undefined for Float64 columns, which are copied in after the layout is fixed. */
  bytes: Uint8Array | undefined;
  /** For strings written straight into the batch: the text and whether it is ASCII (else UTF-16LE). */
  text?: string;
  ascii?: boolean;
  length: number;
  /** Filled in when the layout is fixed. */
  offset: number;
}

/**
 * The sections of one batch in the order they were planned. A class, not a closure made per batch: the planning
 * methods called a fresh closure on every batch, and each new one deoptimized their optimized code ("wrong call
 * target"), dozens of times per run and thread.
 */
class SectionList implements Iterable<Section> {
  private readonly list: Section[] = [];

  add(section: Omit<Section, 'offset'>): Section {
    const placed = { ...section, offset: 0 };
    this.list.push(placed);
    return placed;
  }

  [Symbol.iterator](): Iterator<Section> {
    return this.list[Symbol.iterator]();
  }
}

class ShapeGroup {
  readonly rows: Record<string, unknown>[] = [];
  constructor(readonly keys: string[]) {}
}

/** Reads every column of a shape's rows into one array per column (generated: named loads stay monomorphic). */
type Gather = (rows: readonly Record<string, unknown>[]) => unknown[][];

export class ColumnarCodec {
  private readonly packr = new Packr({ useRecords: true, moreTypes: true });
  private readonly unpackr = new Unpackr({ useRecords: true, moreTypes: true });
  /** Generated constructors and column readers by shape (keys joined by NUL). */
  private readonly builders = new Map<string, RowBuilder>();
  private readonly gatherers = new Map<string, Gather>();

  encode(records: readonly unknown[]): Uint8Array {
    const count = records.length;
    const groups: ShapeGroup[] = [];
    const shapeIds = new Uint8Array(count);
    const rest: unknown[] = [];
    let last: ShapeGroup | undefined;
    let lastId = 0;
    for (let i = 0; i < count; i++) {
      const record = records[i];
      if (!isPlainObject(record)) {
        shapeIds[i] = NO_SHAPE;
        rest.push(record);
        continue;
      }
      if (last === undefined || !hasKeys(record, last.keys)) {
        lastId = groups.findIndex((group) => hasKeys(record, group.keys));
        if (lastId < 0) {
          const keys = Object.keys(record);
          if (groups.length === MAX_SHAPES) {
            shapeIds[i] = NO_SHAPE;
            rest.push(record);
            continue;
          }
          lastId = groups.length;
          groups.push(new ShapeGroup(keys));
        }
        last = groups[lastId]!;
      }
      shapeIds[i] = lastId;
      last.rows.push(record);
    }
    if (groups.length === 0) return this.msgpack(records);

    const sections = new SectionList();
    const shapeIdSection = groups.length > 1 || rest.length > 0 ? sections.add({ bytes: shapeIds, length: count }) : undefined;
    // pack() returns a view into a buffer it reuses on the next call: copy.
    const restBytes = rest.length > 0 ? new Uint8Array(this.packr.pack(rest)) : undefined;
    const restSection = restBytes ? sections.add({ bytes: restBytes, length: restBytes.length }) : undefined;
    const planned = groups.map((group) => {
      const values = this.gatherFor(group.keys)(group.rows);
      return { group, values, columns: values.map((column) => this.planColumn(column, sections)) };
    });

    // Lay out: the descriptor comes first, and its size depends on the offsets it holds. Described with
    // every offset at its widest (a uint32), it can only shrink once the real offsets are in.
    for (const section of sections) section.offset = 0xffff_ffff;
    const start = align8(8 + this.describe(count, planned, shapeIdSection, restSection).length);
    let total = start;
    for (const section of sections) {
      total = align8(total);
      section.offset = total;
      total += section.length;
    }
    const descriptorBytes = this.describe(count, planned, shapeIdSection, restSection);

    const batch = Buffer.allocUnsafeSlow(total);
    batch.writeUInt32LE(MAGIC, 0);
    batch.writeUInt32LE(descriptorBytes.length, 4);
    batch.set(descriptorBytes, 8);
    for (const section of sections) {
      if (section.text !== undefined) batch.write(section.text, section.offset, section.length, section.ascii ? 'latin1' : 'utf16le');
      else if (section.bytes) batch.set(section.bytes, section.offset);
    }
    for (const { values, columns } of planned) {
      columns.forEach((column, c) => {
        if (column.kind !== 'f64') return;
        const numbers = values[c] as number[];
        const target = new Float64Array(batch.buffer, batch.byteOffset + column.values.offset, numbers.length);
        // A plain loop: TypedArray#set from a holey JS array takes V8's slow generic path.
        for (let r = 0; r < numbers.length; r++) target[r] = numbers[r]!;
      });
    }
    return new Uint8Array(batch.buffer, batch.byteOffset, total);
  }

  decode(bytes: Uint8Array): unknown[] {
    if (bytes.byteLength < 8 || new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(0, true) !== MAGIC) {
      return this.unpackr.unpack(bytes) as unknown[];
    }
    // Float64 and Uint32 views need aligned offsets: a batch that was copied somewhere unaligned moves first.
    if ((bytes.byteOffset & 7) !== 0) bytes = bytes.slice();
    const descriptorLength = new Uint32Array(bytes.buffer, bytes.byteOffset + 4, 1)[0]!;
    const descriptor = this.unpackr.unpack(bytes.subarray(8, 8 + descriptorLength)) as BatchDescriptor;
    const { count } = descriptor;
    const out: unknown[] = new Array(count);
    const shapeIds = descriptor.shapeIds === undefined ? undefined : bytes.subarray(descriptor.shapeIds, descriptor.shapeIds + count);
    descriptor.shapes.forEach((shape, id) => {
      const columns = shape.columns.map((column) => this.readColumn(bytes, column, shape.rows));
      this.builderFor(shape.keys)(columns, out, shapeIds, id);
    });
    if (descriptor.rest) {
      const rest = this.unpackr.unpack(bytes.subarray(descriptor.rest.o, descriptor.rest.o + descriptor.rest.l)) as unknown[];
      let next = 0;
      for (let i = 0; i < count; i++) if (shapeIds![i] === NO_SHAPE) out[i] = rest[next++];
    }
    return out;
  }

  private msgpack(records: readonly unknown[]): Uint8Array {
    // pack() returns a view into a reused buffer: copy it into an ArrayBuffer of its own (transferable).
    return new Uint8Array(this.packr.pack(records));
  }

  /** Decides one column's kind and prepares its sections; f64 values are copied once the layout is fixed. */
  private planColumn(values: readonly unknown[], sections: SectionList): PlannedColumn {
    const rows = values.length;
    let numbers = 0;
    let strings = 0;
    for (let r = 0; r < rows; r++) {
      const type = typeof values[r];
      if (type === 'number') numbers++;
      else if (type === 'string') strings++;
    }
    if (numbers === rows) return { kind: 'f64', values: sections.add({ bytes: undefined, length: rows * 8 }) };
    if (strings === rows) return this.planStrings(values as readonly string[], sections);
    const packed = new Uint8Array(this.packr.pack(values));
    return { kind: 'any', values: sections.add({ bytes: packed, length: packed.length }) };
  }

  private planStrings(values: readonly string[], sections: SectionList): PlannedColumn {
    const rows = values.length;
    const limit = Math.max(1, Math.floor(rows * DICTIONARY_SHARE));
    const dictionary = new Map<string, number>();
    let indexes: Uint32Array | undefined = new Uint32Array(rows);
    for (let r = 0; r < rows; r++) {
      const value = values[r]!;
      let index = dictionary.get(value);
      if (index === undefined) {
        // Give up early on columns of unique values (ids): most of the first rows were new.
        if (dictionary.size === limit || (r >= 64 && dictionary.size * 2 > r)) {
          indexes = undefined;
          break;
        }
        index = dictionary.size;
        dictionary.set(value, index);
      }
      indexes[r] = index;
    }
    if (indexes) {
      const entries = [...dictionary.keys()];
      const text = joinWithOffsets(entries);
      const wide = entries.length > 0xffff;
      const indexBytes = wide ? new Uint8Array(indexes.buffer) : new Uint8Array(Uint16Array.from(indexes).buffer);
      return {
        kind: 'dict',
        values: sections.add(text.section),
        offsets: sections.add({ bytes: new Uint8Array(text.offsets.buffer), length: text.offsets.byteLength }),
        indexes: sections.add({ bytes: indexBytes, length: indexBytes.length }),
        wide,
        entries: entries.length,
        ascii: text.ascii,
      };
    }
    const text = joinWithOffsets(values);
    return {
      kind: 'text',
      values: sections.add(text.section),
      offsets: sections.add({ bytes: new Uint8Array(text.offsets.buffer), length: text.offsets.byteLength }),
      ascii: text.ascii,
    };
  }

  private describe(count: number, planned: ReadonlyArray<{ group: ShapeGroup; columns: PlannedColumn[] }>, shapeIds: Section | undefined, rest: Section | undefined): Uint8Array {
    const descriptor: BatchDescriptor = {
      count,
      ...(shapeIds ? { shapeIds: shapeIds.offset } : {}),
      shapes: planned.map(({ group, columns }) => ({
        keys: group.keys,
        rows: group.rows.length,
        columns: columns.map((column): ColumnDescriptor => {
          const base = { k: column.kind, o: column.values.offset, l: column.values.length };
          if (column.kind === 'dict') return { ...base, so: column.offsets.offset, io: column.indexes.offset, wide: column.wide, n: column.entries, ascii: column.ascii };
          if (column.kind === 'text') return { ...base, so: column.offsets.offset, ascii: column.ascii };
          return base;
        }),
      })),
      ...(rest ? { rest: { o: rest.offset, l: rest.length } } : {}),
    };
    return new Uint8Array(this.packr.pack(descriptor));
  }

  private readColumn(bytes: Uint8Array, column: ColumnDescriptor, rows: number): ArrayLike<unknown> {
    const { buffer } = bytes;
    const base = bytes.byteOffset;
    switch (column.k) {
      case 'f64':
        return new Float64Array(buffer, base + column.o, rows);
      case 'any':
        return this.unpackr.unpack(bytes.subarray(column.o, column.o + column.l)) as unknown[];
      case 'text': {
        const text = readText(bytes, column);
        const offsets = new Uint32Array(buffer, base + column.so!, rows + 1);
        const values = new Array<string>(rows);
        for (let r = 0; r < rows; r++) values[r] = text.slice(offsets[r]!, offsets[r + 1]!);
        return values;
      }
      case 'dict': {
        const text = readText(bytes, column);
        const entries = column.n!;
        const offsets = new Uint32Array(buffer, base + column.so!, entries + 1);
        const dictionary = new Array<string>(entries);
        for (let e = 0; e < entries; e++) dictionary[e] = text.slice(offsets[e]!, offsets[e + 1]!);
        const indexes = column.wide ? new Uint32Array(buffer, base + column.io!, rows) : new Uint16Array(buffer, base + column.io!, rows);
        const values = new Array<string>(rows);
        for (let r = 0; r < rows; r++) values[r] = dictionary[indexes[r]!]!;
        return values;
      }
    }
  }

  private gatherFor(keys: string[]): Gather {
    const id = keys.join('\u0000');
    let gather = this.gatherers.get(id);
    if (!gather) {
      const declare = keys.map((_, c) => `const c${c} = new Array(n);`).join(' ');
      const read = keys.map((key, c) => `c${c}[r] = row[${JSON.stringify(key)}];`).join(' ');
      gather = new Function(
        'rows',
        `const n = rows.length; ${declare}
        for (let r = 0; r < n; r++) { const row = rows[r]; ${read} }
        return [${keys.map((_, c) => `c${c}`).join(', ')}];`,
      ) as Gather;
      this.gatherers.set(id, gather);
    }
    return gather;
  }

  private builderFor(keys: string[]): RowBuilder {
    const id = keys.join('\u0000');
    let builder = this.builders.get(id);
    if (!builder) {
      // One object literal per shape: V8 gives every row of the shape one hidden class, in the encoded key order.
      // A computed key defines an own property even for "__proto__", which a literal key would not.
      const fields = keys.map((key, c) => `${key === '__proto__' ? '["__proto__"]' : JSON.stringify(key)}: c${c}[j]`).join(', ');
      const unpack = keys.map((_, c) => `const c${c} = columns[${c}];`).join(' ');
      builder = new Function(
        'columns',
        'out',
        'shapeIds',
        'id',
        `${unpack}
        if (shapeIds === undefined) { for (let j = 0; j < out.length; j++) out[j] = { ${fields} }; return; }
        let j = 0;
        for (let i = 0; i < out.length; i++) if (shapeIds[i] === id) { out[i] = { ${fields} }; j++; }`,
      ) as RowBuilder;
      this.builders.set(id, builder);
    }
    return builder;
  }
}

type RowBuilder = (columns: ArrayLike<unknown>[], out: unknown[], shapeIds: Uint8Array | undefined, id: number) => void;

type PlannedColumn =
  | { kind: 'f64' | 'any'; values: Section }
  | { kind: 'text'; values: Section; offsets: Section; ascii: boolean }
  | { kind: 'dict'; values: Section; offsets: Section; indexes: Section; wide: boolean; entries: number; ascii: boolean };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** The object's enumerable keys are exactly `keys`, in that order (a for-in walk allocates nothing). */
function hasKeys(record: Record<string, unknown>, keys: readonly string[]): boolean {
  let k = 0;
  for (const key in record) {
    if (key !== keys[k]) return false;
    k++;
  }
  return k === keys.length;
}

/** Concatenates strings, noting where each ends (in UTF-16 units, which is how the decoder slices). */
function joinWithOffsets(values: readonly string[]): { section: Omit<Section, 'offset'>; offsets: Uint32Array; ascii: boolean } {
  const offsets = new Uint32Array(values.length + 1);
  let text = '';
  for (let i = 0; i < values.length; i++) {
    text += values[i];
    offsets[i + 1] = text.length;
  }
  // A UTF-8 length equal to the UTF-16 length means every character is ASCII: one byte each, latin1.
  // Other text travels as UTF-16 code units, which also carries lone surrogates exactly (UTF-8 cannot).
  const ascii = Buffer.byteLength(text, 'utf8') === text.length;
  return { section: { bytes: undefined, text, ascii, length: ascii ? text.length : text.length * 2 }, offsets, ascii };
}

function readText(bytes: Uint8Array, column: ColumnDescriptor): string {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset + column.o, column.l);
  return view.toString(column.ascii ? 'latin1' : 'utf16le');
}

function align8(offset: number): number {
  return (offset + 7) & ~7;
}
