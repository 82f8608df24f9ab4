const EMPTY = -1;
const MIN_SLOTS = 1 << 10;

/**
 * login -> dense index, as an open-addressing hash table (linear probing) over Int32Array slots.
 *
 * Why not a Map: with a million keys, Map.get of a freshly parsed string (every account of every batch)
 * cost ~1-2 µs here (V8 hashes the new string, then chases bucket, entry and key through ~60 MB of
 * heap); it was the top item of the simulator's profile. This table keeps a 32-bit hash per index, so
 * a probe compares numbers and touches a stored string only on a hash match, and it costs ~16 bytes per
 * login instead of a Map entry's ~40.
 *
 * Invariants: load factor <= 1/2 (so probes stay short); indices are dense and never removed.
 */
export class LoginIndex {
  private slots = new Int32Array(MIN_SLOTS).fill(EMPTY);
  private mask = MIN_SLOTS - 1;
  private hashes: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  private readonly logins: string[] = [];

  get size(): number {
    return this.logins.length;
  }

  loginAt(i: number): string {
    return this.logins[i];
  }

  /** Index of `login`, or -1. */
  find(login: string): number {
    const h = hashLogin(login);
    for (let p = h & this.mask; ; p = (p + 1) & this.mask) {
      const i = this.slots[p];
      if (i === EMPTY) return EMPTY;
      if (this.hashes[i] === h && this.logins[i] === login) return i;
    }
  }

  /** Index of `login`, added at the end when new. */
  add(login: string): number {
    const h = hashLogin(login);
    let p = h & this.mask;
    for (; ; p = (p + 1) & this.mask) {
      const i = this.slots[p];
      if (i === EMPTY) break;
      if (this.hashes[i] === h && this.logins[i] === login) return i;
    }
    const i = this.logins.length;
    this.logins.push(login);
    if (i >= this.hashes.length) this.hashes = grown(this.hashes, Math.max(MIN_SLOTS, i * 2));
    this.hashes[i] = h;
    this.slots[p] = i;
    if (this.logins.length * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return i;
  }

  /** Sizes the table for `count` logins up front (seeding a million accounts without rehashing). */
  reserve(count: number): void {
    let slots = this.slots.length;
    while (count * 2 > slots) slots *= 2;
    if (slots > this.slots.length) this.rehash(slots);
    if (count > this.hashes.length) this.hashes = grown(this.hashes, count);
  }

  private rehash(slotCount: number): void {
    this.slots = new Int32Array(slotCount).fill(EMPTY);
    this.mask = slotCount - 1;
    for (let i = 0; i < this.logins.length; i++) {
      let p = this.hashes[i] & this.mask;
      while (this.slots[p] !== EMPTY) p = (p + 1) & this.mask;
      this.slots[p] = i;
    }
  }
}

/** FNV-1a over UTF-16 code units, finished with a murmur3 mix so the low bits (the slot) spread well. */
export function hashLogin(login: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < login.length; i++) h = Math.imul(h ^ login.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

function grown(array: Uint32Array, capacity: number): Uint32Array<ArrayBuffer> {
  const next = new Uint32Array(capacity);
  next.set(array);
  return next;
}
