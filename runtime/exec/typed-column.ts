// A column of numbers appended one at a time and handed over as an exactly sized typed array: the decode stage
// fills several per chunk (exits, places in the ordered stream, event times, dedupe hashes), and JS arrays
// grown by `push` then copied by `Float64Array.from` allocated several times their size on every chunk.

type NumberArray = Float64Array | Int32Array | Uint32Array;

interface NumberArrayType<A extends NumberArray> {
  new (length: number): A;
}

/** Reused from chunk to chunk: its storage grows to the largest chunk and stays. */
export class TypedColumn<A extends NumberArray> {
  private values: A;
  length = 0;

  constructor(private readonly type: NumberArrayType<A>, capacity = 1024) {
    this.values = new type(capacity);
  }

  push(value: number): void {
    if (this.length === this.values.length) this.grow();
    this.values[this.length++] = value;
  }

  at(index: number): number {
    return this.values[index]!;
  }

  set(index: number, value: number): void {
    this.values[index] = value;
  }

  /** A copy of the values (an array of its own, so it can be transferred), and the column emptied. */
  take(): A {
    const taken = this.values.slice(0, this.length) as A;
    this.length = 0;
    return taken;
  }

  clear(): void {
    this.length = 0;
  }

  private grow(): void {
    const values = new this.type(this.values.length * 2);
    values.set(this.values);
    this.values = values;
  }
}

/**
 * Strings appended as UTF-16 code units, with where each ends: a chunk's dedupe ids travel to the coordinator as
 * two transferred typed arrays instead of a string each to clone, and stay code units there (id-arena.ts).
 */
export class StringColumn {
  private chars = new Uint16Array(1 << 15);
  private length = 0;
  private readonly ends = new TypedColumn(Uint32Array);

  /** The code units and ends of these strings, as the decode stage sends them. */
  static of(texts: readonly string[]): { chars: Uint16Array; ends: Uint32Array } {
    const column = new StringColumn();
    for (const text of texts) column.push(text);
    return column.take();
  }

  push(text: string): void {
    const end = this.length + text.length;
    if (end > this.chars.length) this.grow(end);
    const chars = this.chars;
    for (let i = 0, p = this.length; i < text.length; i++, p++) chars[p] = text.charCodeAt(i);
    this.length = end;
    this.ends.push(end);
  }

  /** Copies of the code units and the ends (arrays of their own, so they can be transferred), and the column emptied. */
  take(): { chars: Uint16Array; ends: Uint32Array } {
    const chars = this.chars.slice(0, this.length);
    this.length = 0;
    return { chars, ends: this.ends.take() };
  }

  clear(): void {
    this.length = 0;
    this.ends.clear();
  }

  private grow(needed: number): void {
    let size = this.chars.length * 2;
    while (size < needed) size *= 2;
    const chars = new Uint16Array(size);
    chars.set(this.chars.subarray(0, this.length));
    this.chars = chars;
  }
}
