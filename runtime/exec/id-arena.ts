// The dedupe ids the coordinator keeps, as UTF-16 code units in one array: appended at the tail, dropped from the
// head (journal segments leave oldest first). A million kept ids were a million strings on the coordinator's heap,
// each deserialized from the decode thread's message and then carried by every garbage collection; here they
// are one typed array. UTF-16 code units, not UTF-8: lone surrogates stay distinct, so equal units mean equal ids.
// While every unit kept is at most 0xFF (ASCII and Latin-1 ids: nearly all real ones) the array holds one byte per
// unit; the first id with a wider unit widens it to 16 bits in place (positions are in units either way). A 1 GB tape
// of UUID ids kept 450 MB of ids at two bytes a unit and peaked above 1 GiB at -p 8.

const INITIAL_CHARS = 1 << 16;

export class IdArena {
  private chars: Uint8Array | Uint16Array = new Uint8Array(INITIAL_CHARS);
  /** Absolute position of chars[0]; positions only grow, so a kept id's position stays valid until dropped. */
  private base = 0;
  private head = 0;
  private tail = 0;

  /** Absolute position after the newest id. */
  get end(): number {
    return this.tail;
  }

  /** Bytes the kept ids take (one or two per unit). */
  get bytesHeld(): number {
    return (this.tail - this.head) * this.chars.BYTES_PER_ELEMENT;
  }

  /** Appends `source[start, end)` and returns its absolute position. */
  append(source: Uint16Array, start: number, end: number): number {
    const length = end - start;
    if (this.tail + length - this.base > this.chars.length) this.makeRoom(length);
    const at = this.tail;
    // A loop, not set(subarray(...)): ids are short, and a subarray per id costs more than copying it.
    const chars = this.chars;
    let units = 0;
    for (let i = start, p = at - this.base; i < end; i++, p++) {
      const unit = source[i]!;
      units |= unit;
      chars[p] = unit;
    }
    // A byte array kept only the low byte of a wider unit: widen, then copy the id again over that truncated copy.
    if (units > 0xff && chars instanceof Uint8Array) {
      this.chars = Uint16Array.from(chars);
      return this.append(source, start, end);
    }
    this.tail += length;
    return at;
  }

  /**
   * Whether the kept id at `at` (of `length` units) equals `source[start, start + length)`. In a byte array every
   * kept unit is at most 0xFF, so a wider unit of `source` never compares equal.
   */
  equals(at: number, length: number, source: Uint16Array, start: number): boolean {
    const chars = this.chars;
    for (let i = 0, p = at - this.base; i < length; i++, p++) if (chars[p] !== source[start + i]) return false;
    return true;
  }

  /** The kept id at `at` as a string (for checkpoints). */
  text(at: number, length: number): string {
    const from = at - this.base;
    // fromCharCode keeps lone surrogates (a UTF-16 TextDecoder would replace them); in slices, for the stack.
    let text = '';
    for (let p = from; p < from + length; p += 8192) {
      text += String.fromCharCode.apply(null, this.chars.subarray(p, Math.min(from + length, p + 8192)) as unknown as number[]);
    }
    return text;
  }

  /** Forgets everything before absolute position `position` (the end of the newest dropped segment). */
  dropBefore(position: number): void {
    this.head = Math.max(this.head, Math.min(position, this.tail));
  }

  /** Moves the live ids to the front, or into an array twice as large when they fill half of this one. */
  private makeRoom(adding: number): void {
    const live = this.tail - this.head;
    let capacity = this.chars.length;
    while ((live + adding) * 2 > capacity) capacity *= 2;
    const from = this.head - this.base;
    if (capacity === this.chars.length) {
      this.chars.copyWithin(0, from, from + live);
    } else {
      const chars = this.chars instanceof Uint8Array ? new Uint8Array(capacity) : new Uint16Array(capacity);
      chars.set(this.chars.subarray(from, from + live));
      this.chars = chars;
    }
    this.base = this.head;
  }
}
