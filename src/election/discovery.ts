// How a node that knows of no server finds the best candidate without every
// node asking every other (docs/election.md, "Traffic"): a paced sweep of the
// static addresses that only a node that may be the best carries through,
// and hearsay, the candidates other nodes name, waited for and asked
// directly. Pure; the election decides when to use them.
import type { Rng } from '../util/rng.js';
import type { Addr, PeerTable } from './peers.js';
import type { Rank } from './precedence.js';
import { FLAG_CANNOT_SERVE, FLAG_REFERENCE, FLAG_SYNCED, type Candidate } from './wire.js';

/** Addresses a sweep asks at its first step; each step asks twice as many as the last. */
export const SWEEP_FIRST_BATCH = 4;
/** Steps per heartbeat: 1,000 addresses are swept in 8 steps, within half of the discovery period. */
export const SWEEP_STEPS_PER_BEAT = 16n;

/**
 * The static addresses in a random order, asked in doubling batches. A node
 * stops (the election stops asking it for batches) as soon as it hears of a
 * better candidate or of a server, so at a simultaneous boot most nodes ask
 * a handful, and only the best carries the sweep to every address.
 */
export class Sweep {
  #pending: Addr[] | null = null;
  #order: Addr[] = [];
  #next = 0;
  #batch = SWEEP_FIRST_BATCH;
  /** When the next batch is due; null once every address is asked. */
  #stepNs: bigint | null = null;
  /** A step after the last batch, when its answers are in: the sweep is through. */
  #throughNs: bigint | null = null;

  constructor(readonly intervalNs: bigint) {}

  /** Starts over (shuffled at the first step): boot, or back to knowing no server. */
  begin(addrs: Addr[], now: bigint): void {
    this.#pending = addrs;
    this.#order = [];
    this.#next = 0;
    this.#batch = SWEEP_FIRST_BATCH;
    this.#stepNs = addrs.length ? now : null;
    this.#throughNs = addrs.length ? null : now;
  }

  stepDue(now: bigint): boolean {
    return this.#stepNs !== null && now >= this.#stepNs;
  }

  /** Every address asked, and a step given to the last ones to answer. */
  done(now: bigint): boolean {
    return this.#throughNs !== null && now >= this.#throughNs;
  }

  /** When the sweep next needs the node's attention (a batch, or being through), if ever. */
  wakeNs(now: bigint): bigint | null {
    return this.#stepNs ?? (this.#throughNs !== null && this.#throughNs > now ? this.#throughNs : null);
  }

  /** The next batch; the step after it is due an interval from now. */
  take(now: bigint, rng: Rng): Addr[] {
    if (this.#pending) {
      this.#order = shuffled(this.#pending, rng);
      this.#pending = null;
    }
    const batch = this.#order.slice(this.#next, this.#next + this.#batch);
    this.#next += batch.length;
    this.#batch *= 2;
    if (this.#next < this.#order.length) this.#stepNs = now + this.intervalNs;
    else {
      this.#stepNs = null;
      this.#throughNs = now + this.intervalNs;
    }
    return batch;
  }

  /** Not now (the node heard of someone better): look again an interval later. */
  postpone(now: bigint): void {
    if (this.#stepNs !== null) this.#stepNs = now + this.intervalNs;
  }

  /** No more asking: the node found its place, or its lost server named it first (that word replaces the sweep). */
  stop(now: bigint): void {
    this.#stepNs = null;
    if (this.#throughNs === null || this.#throughNs > now) this.#throughNs = now;
  }
}

function shuffled<T>(xs: T[], rng: Rng): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** A node known only by another's word: enough to rank it and reach it. */
export type Heard = Rank & Addr & { flags: number };

/** A named candidate as precedence sees it; `synced`: rank it as carrying the cluster's time whatever its flags say. */
export function heardRank(c: Candidate, synced: boolean): Heard {
  return {
    id: c.id,
    priority: c.priority,
    stratum: c.stratum,
    hasReference: (c.flags & FLAG_REFERENCE) !== 0,
    synced: synced || (c.flags & FLAG_SYNCED) !== 0,
    flags: c.flags,
    address: c.address,
    port: c.port,
  };
}

/** Hearsay kept at most (a talkative or forged peer cannot grow it). */
const MAX_HEARSAY = 32;

/**
 * Candidates other nodes named (a lost server's successors, a booting
 * node's best peers), each until a deadline. One counts while we have not
 * heard from it ourselves: once it speaks (or said it was leaving), its own
 * word replaces the hearsay.
 */
export class Hearsay {
  readonly #heard = new Map<string, { c: Candidate; untilNs: bigint; synced: boolean }>();

  /**
   * `synced`: rank it as carrying the cluster's time whatever its flags say
   * (a server's named successor followed that server, as we did; the flag
   * the server last heard from it may predate its first sample).
   */
  hear(c: Candidate, untilNs: bigint, synced = false): void {
    const was = this.#heard.get(c.id);
    if (!was && this.#heard.size >= MAX_HEARSAY) this.#heard.delete(this.#heard.keys().next().value!);
    this.#heard.set(c.id, { c, untilNs: was && was.untilNs > untilNs ? was.untilNs : untilNs, synced: synced || (was?.synced ?? false) });
  }

  clear(): void {
    this.#heard.clear();
  }

  /** The candidates that count now: in time, able to serve, not ourselves, not heard from. */
  ranks(now: bigint, selfId: string, peers: PeerTable): Heard[] {
    const out: Heard[] = [];
    for (const [id, h] of this.#heard) {
      if (h.untilNs < now) {
        this.#heard.delete(id);
        continue;
      }
      const p = peers.get(id);
      if (id === selfId || (h.c.flags & FLAG_CANNOT_SERVE) !== 0 || (p && (p.gone || peers.live(p, now)))) continue;
      out.push(heardRank(h.c, h.synced));
    }
    return out;
  }
}
