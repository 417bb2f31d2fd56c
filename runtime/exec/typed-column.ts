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
