// The dedupe ids kept within the horizon: id -> event time, as an open-addressing hash table on typed arrays
// keyed by a hash the decode pool computed. An id is compared by its code units in the IdArena, where the journal
// keeps it; the table holds only where that copy is. A `Map<string, number>` of a million fresh ids measured about
// twice the CPU per lookup-and-insert on the coordinator, which applies every record in order.

import { murmurHash } from '../plan/key-groups.js';
import type { IdArena } from './id-arena.js';

const EMPTY = 0;
const FREE = -1;
const INITIAL_SLOTS = 1 << 12;

/** The 32-bit hash the index is keyed by (computed in the decode pool, again on restore). */
export function dedupeHash(id: string): number {
  return murmurHash(id, 0x5bd1e995);
}

export class DedupeIndex {
  /** Per slot: entry number + 1, or EMPTY. Linear probing; deletion shifts back (no tombstones). */
  private slots = new Int32Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private hashes = new Uint32Array(INITIAL_SLOTS >> 1);
  private times = new Float64Array(INITIAL_SLOTS >> 1);
  /** Per entry: the arena position of the id's newest copy (FREE for an unused entry), and its length. */
  private positions = new Float64Array(INITIAL_SLOTS >> 1);
  private lengths = new Uint32Array(INITIAL_SLOTS >> 1);
  /** Entries ever used (the high-water mark). */
  private entries = 0;
  /** Entry numbers freed by deletions, reused before new ones. */
  private free: number[] = [];
  private live = 0;

  constructor(private readonly arena: IdArena) {}

  get size(): number {
    return this.live;
  }

  /** The time kept for the id `source[start, start + length)`, if any. */
  get(source: Uint16Array, start: number, length: number, hash: number): number | undefined {
    const slot = this.find(source, start, length, hash);
    return slot < 0 ? undefined : this.times[this.slots[slot]! - 1];
  }

  /** Keeps `time` for the id, whose newest copy is now at arena position `position`. */
  set(source: Uint16Array, start: number, length: number, hash: number, time: number, position: number): void {
    const found = this.find(source, start, length, hash);
    if (found >= 0) {
      const entry = this.slots[found]! - 1;
      this.times[entry] = time;
      this.positions[entry] = position;
      return;
    }
    if ((this.live + 1) * 2 > this.slots.length) this.grow();
    const entry = this.free.length > 0 ? this.free.pop()! : this.entries++;
    if (entry >= this.hashes.length) this.growEntries();
    this.hashes[entry] = hash >>> 0;
    this.times[entry] = time;
    this.positions[entry] = position;
    this.lengths[entry] = length;
    let slot = hash & this.mask;
    while (this.slots[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry + 1;
    this.live++;
  }

  /**
   * Removes the id if its newest copy is the one at `position` (a journal segment is being dropped); an id
   * passed again later points at a newer copy and stays.
   */
  deleteCopy(hash: number, position: number, length: number): void {
    const wanted = hash >>> 0;
    for (let slot = wanted & this.mask; ; slot = (slot + 1) & this.mask) {
      const held = this.slots[slot]!;
      if (held === EMPTY) return;
      const entry = held - 1;
      if (this.positions[entry] === position && this.lengths[entry] === length && this.hashes[entry] === wanted) {
        this.positions[entry] = FREE;
        this.free.push(entry);
        this.live--;
        this.removeSlot(slot);
        return;
      }
    }
  }

  /** The slot holding the id, or -1. */
  private find(source: Uint16Array, start: number, length: number, hash: number): number {
    const wanted = hash >>> 0;
    for (let slot = wanted & this.mask; ; slot = (slot + 1) & this.mask) {
      const held = this.slots[slot]!;
      if (held === EMPTY) return -1;
      const entry = held - 1;
      if (this.hashes[entry] === wanted && this.lengths[entry] === length && this.arena.equals(this.positions[entry]!, length, source, start)) return slot;
    }
  }

  /** Empties a slot and moves later entries of its probe run back, so lookups never stop early. */
  private removeSlot(slot: number): void {
    let hole = slot;
    for (let next = (slot + 1) & this.mask; this.slots[next] !== EMPTY; next = (next + 1) & this.mask) {
      const home = this.hashes[this.slots[next]! - 1]! & this.mask;
      // Move the entry at `next` into the hole unless its home lies cyclically in (hole, next].
      const homeAfterHole = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!homeAfterHole) {
        this.slots[hole] = this.slots[next]!;
        hole = next;
      }
    }
    this.slots[hole] = EMPTY;
  }

  /** Doubles the slots and places every live entry again, walking the entries in order (sequential reads). */
  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    const { positions, hashes } = this;
    for (let entry = 0; entry < this.entries; entry++) {
      if (positions[entry] === FREE) continue;
      let slot = hashes[entry]! & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }

  private growEntries(): void {
    const size = this.hashes.length * 2;
    this.hashes = grown(new Uint32Array(size), this.hashes);
    this.times = grown(new Float64Array(size), this.times);
    this.positions = grown(new Float64Array(size), this.positions);
    this.lengths = grown(new Uint32Array(size), this.lengths);
  }
}

function grown<A extends Uint32Array | Float64Array>(into: A, from: A): A {
  into.set(from);
  return into;
}
