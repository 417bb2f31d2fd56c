// The dedupe ids kept within the horizon: id -> event time, as an open-addressing hash table on typed arrays
// keyed by a hash the decode pool computed. A `Map<string, number>` of a million fresh ids measured about twice
// the CPU per lookup-and-insert on the coordinator, which applies every record in order.

import { murmurHash } from '../plan/key-groups.js';

const EMPTY = 0;
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
  private ids: Array<string | undefined> = [];
  /** Entry numbers freed by deletions, reused before new ones. */
  private free: number[] = [];
  private live = 0;

  get size(): number {
    return this.live;
  }

  get(id: string, hash: number): number | undefined {
    const slot = this.find(id, hash);
    return slot < 0 ? undefined : this.times[this.slots[slot]! - 1];
  }

  set(id: string, hash: number, time: number): void {
    const found = this.find(id, hash);
    if (found >= 0) {
      this.times[this.slots[found]! - 1] = time;
      return;
    }
    if ((this.live + 1) * 2 > this.slots.length) this.grow();
    const entry = this.free.length > 0 ? this.free.pop()! : this.ids.length;
    if (entry >= this.hashes.length) this.growEntries();
    this.hashes[entry] = hash >>> 0;
    this.times[entry] = time;
    this.ids[entry] = id;
    let slot = hash & this.mask;
    while (this.slots[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry + 1;
    this.live++;
  }

  /** Removes the id if its time is still `time` (a later passing of the same id keeps it). */
  deleteIfTime(id: string, hash: number, time: number): void {
    const slot = this.find(id, hash);
    if (slot < 0) return;
    const entry = this.slots[slot]! - 1;
    if (this.times[entry] !== time) return;
    this.ids[entry] = undefined;
    this.free.push(entry);
    this.live--;
    this.removeSlot(slot);
  }

  /** The slot holding `id`, or -1. */
  private find(id: string, hash: number): number {
    const wanted = hash >>> 0;
    for (let slot = wanted & this.mask; ; slot = (slot + 1) & this.mask) {
      const held = this.slots[slot]!;
      if (held === EMPTY) return -1;
      if (this.hashes[held - 1] === wanted && this.ids[held - 1] === id) return slot;
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
    const { ids, hashes } = this;
    for (let entry = 0; entry < ids.length; entry++) {
      if (ids[entry] === undefined) continue;
      let slot = hashes[entry]! & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }

  private growEntries(): void {
    const hashes = new Uint32Array(this.hashes.length * 2);
    hashes.set(this.hashes);
    this.hashes = hashes;
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
  }
}
