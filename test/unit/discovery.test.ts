// The election's discovery pieces alone: the paced sweep of static
// addresses and the hearsay of named candidates (src/election/discovery.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Hearsay, Sweep, SWEEP_FIRST_BATCH } from '../../src/election/discovery.js';
import { PeerTable } from '../../src/election/peers.js';
import { FLAG_CANNOT_SERVE, FLAG_SYNCED, MsgType, NO_AGE, Role, type Candidate, type ElectionMessage } from '../../src/election/wire.js';
import { seededRng } from '../../src/util/rng.js';

const MS = 1_000_000n;
const addrs = (n: number) => Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 12300 }));

test('sweep: doubling batches an interval apart, every address once, through a step after the last', () => {
  const sw = new Sweep(62n * MS);
  const all = addrs(100);
  sw.begin(all, 0n);
  const rng = seededRng(1);
  const seen: string[] = [];
  const sizes: number[] = [];
  let t = 0n;
  while (sw.stepDue(t) || !sw.done(t)) {
    assert.ok(t < 10_000n * MS, 'the sweep ends');
    if (sw.stepDue(t)) {
      const b = sw.take(t, rng);
      sizes.push(b.length);
      seen.push(...b.map((a) => a.address));
    }
    const next = sw.wakeNs(t);
    assert.ok(next !== null && next > t, `wakes after ${t}`);
    t = next;
  }
  assert.equal(sizes, [SWEEP_FIRST_BATCH, 8, 16, 32, 40]);
  assert.equal(new Set(seen).size, 100);
  assert.equal(t, 5n * 62n * MS, 'through one interval after the fifth batch');
  assert.not.equal(seen.slice(0, 4), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'], 'in a random order');
});

test('sweep: postponed while the node hears of someone better; stop makes it through at once; begin starts over', () => {
  const sw = new Sweep(10n);
  sw.begin(addrs(10), 0n);
  sw.take(0n, seededRng(2));
  assert.ok(!sw.stepDue(5n) && sw.stepDue(10n));
  sw.postpone(10n);
  assert.ok(!sw.stepDue(15n) && sw.stepDue(20n) && !sw.done(20n));
  sw.stop(20n);
  assert.ok(!sw.stepDue(30n) && sw.done(20n));
  sw.begin(addrs(10), 40n);
  assert.ok(sw.stepDue(40n) && !sw.done(40n));
  assert.equal(sw.take(40n, seededRng(3)).length, SWEEP_FIRST_BATCH, 'the first batch again');
  const empty = new Sweep(10n);
  empty.begin([], 0n);
  assert.ok(empty.done(0n) && !empty.stepDue(0n), 'no static addresses: nothing to sweep');
});

const cand = (id: string, priority: number, flags = 0): Candidate => ({ id, address: '10.0.0.9', port: 12300, ntpPort: 123, priority, stratum: 10, flags });
const msg = (id: string, seq: bigint): ElectionMessage => ({
  type: MsgType.Status,
  role: Role.None,
  flags: 0,
  stratum: 10,
  priority: 5,
  bootId: 7n,
  seq,
  nonce: 0n,
  leaderAgeMs: NO_AGE,
  floorNs: 0n,
  ntpPort: 123,
  id,
  leader: null,
  candidates: [],
});

test('hearsay: counts until its deadline, not for ourselves or one that cannot serve, and gives way to the node’s own word', () => {
  const peers = new PeerTable(2500n * MS, 1000n * MS);
  const h = new Hearsay();
  h.hear(cand('X', 1), 1000n * MS);
  h.hear(cand('SELF', 0), 1000n * MS);
  h.hear(cand('Z', 0, FLAG_CANNOT_SERVE), 1000n * MS);
  h.hear(cand('Y', 2), 500n * MS, true);
  const ids = (now: bigint) => h.ranks(now, 'SELF', peers).map((r) => r.id);
  assert.equal(ids(0n), ['X', 'Y']);
  assert.equal(h.ranks(0n, 'SELF', peers)[1]!.synced, true, 'named by a server: ranked as carrying its time');
  assert.equal(h.ranks(0n, 'SELF', peers)[0]!.synced, false);
  assert.equal(ids(600n * MS), ['X'], "Y's word ran out");
  peers.record(msg('X', 1n), { address: '10.0.0.9', port: 12300 }, 700n * MS);
  assert.equal(ids(700n * MS), [], 'X speaks for itself now');
  h.hear(cand('W', 1, FLAG_SYNCED), 2000n * MS);
  assert.equal(h.ranks(1500n * MS, 'SELF', peers)[0]!.synced, true);
  h.clear();
  assert.equal(ids(1500n * MS), []);
});

test('hearsay: bounded, the oldest word forgotten first', () => {
  const peers = new PeerTable(2500n * MS, 1000n * MS);
  const h = new Hearsay();
  for (let i = 0; i < 100; i++) h.hear(cand(`n${i}`, i), 1000n * MS);
  const ids = h.ranks(0n, 'SELF', peers).map((r) => r.id);
  assert.equal(ids.length, 32);
  assert.equal(ids[0], 'n68');
});

test.run();
