// The seed's rules, one test each, against the election state machine over
// an in-memory network with a manual clock (the simulator runs the same code
// at scale: test/sim).
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Election, type Addr, type ElectionAction, type ElectionConfig } from '../../src/election/election.js';
import { decodeMessage, MsgType, Role } from '../../src/election/wire.js';
import { seededRng } from '../../src/util/rng.js';
import { testSeed } from '../helpers/seed.js';

const S = 1_000_000_000n;

/** Nodes on 10.0.0.x, messages delivered in order after 1 ms; serving succeeds unless told otherwise. */
class Lan {
  readonly nodes = new Map<string, { e: Election; addr: Addr; failServes: number; sent: ElectionAction[] }>();
  readonly #queue: { at: bigint; to: string; run: () => ElectionAction[] }[] = [];
  readonly #timers = new Map<string, bigint>();
  readonly rng = seededRng(testSeed(11));
  readonly cuts = new Set<string>();
  now = 0n;

  cut(a: string, b: string): void {
    this.cuts.add(`${a}|${b}`).add(`${b}|${a}`);
  }

  add(id: string, priority: number, o: Partial<ElectionConfig> & { failServes?: number } = {}): Election {
    const addr = { address: `10.0.0.${this.nodes.size + 1}`, port: 12300 };
    const e = new Election({ id, priority, peers: [], ntpPort: 123, ...o });
    this.nodes.set(id, { e, addr, failServes: o.failServes ?? 0, sent: [] });
    return e;
  }

  start(id: string, peers?: string[]): void {
    const n = this.nodes.get(id)!;
    // A static peer list: everyone's address unless told otherwise.
    (n.e.cfg as { peers: Addr[] }).peers = (peers ?? [...this.nodes.keys()]).map((p) => this.nodes.get(p)!.addr);
    this.#apply(id, n.e.start(this.now, this.rng));
  }

  #apply(id: string, actions: ElectionAction[]): void {
    const n = this.nodes.get(id)!;
    for (const a of actions) {
      n.sent.push(a);
      if (a.type === 'timer') this.#timers.set(id, a.atMonoNs);
      if (a.type === 'send' && a.to !== 'multicast') {
        const to = [...this.nodes.entries()].find(([, x]) => x.addr.address === (a.to as Addr).address);
        if (to && !this.cuts.has(`${id}|${to[0]}`))
          this.#queue.push({ at: this.now + 1_000_000n, to: to[0], run: () => to[1].e.onMessage(a.bytes, n.addr, this.now, this.rng) });
      }
      if (a.type === 'serve' && a.on) {
        const ok = n.failServes === 0;
        if (!ok) n.failServes--;
        this.#queue.push({ at: this.now + 10_000_000n, to: id, run: () => n.e.onServeResult(ok, this.now, this.rng) });
      }
    }
  }

  /** Runs events and timers until `until`. */
  run(until: bigint): void {
    for (;;) {
      this.#queue.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      let next = this.#queue[0]?.at ?? null;
      let timer: string | null = null;
      for (const [id, at] of this.#timers)
        if (next === null || at < next) {
          next = at;
          timer = id;
        }
      if (next === null || next > until) break;
      this.now = next;
      if (timer) {
        this.#timers.delete(timer);
        this.#apply(timer, this.nodes.get(timer)!.e.onTimer(this.now, this.rng));
      } else {
        const ev = this.#queue.shift()!;
        this.#apply(ev.to, ev.run());
      }
    }
    this.now = until;
  }

  role(id: string): Role {
    return this.nodes.get(id)!.e.role;
  }
}

test('seed: any node answers what its state, priority and server are', () => {
  const lan = new Lan();
  lan.add('A', 0);
  lan.add('B', 1);
  for (const id of ['A', 'B']) lan.start(id);
  lan.run(5n * S);
  // B is A's client; ask B.
  const b = lan.nodes.get('B')!;
  const asked = b.e.onMessage(new Uint8Array(0), lan.nodes.get('A')!.addr, lan.now, lan.rng);
  assert.equal(asked, [], 'garbage is dropped and counted, not answered');
  assert.is(b.e.counters.dropMalformed, 1);
  const statuses = b.sent.filter((a): a is Extract<ElectionAction, { type: 'send' }> => a.type === 'send' && a.msgType === MsgType.Status);
  const last = decodeMessage(statuses.at(-1)!.bytes);
  assert.ok(last.ok);
  if (last.ok) {
    assert.is(last.msg.role, Role.Client);
    assert.is(last.msg.priority, 1);
    assert.is(last.msg.leader?.id, 'A', 'a client names its server');
  }
});

test('seed: with no server, the highest priority serves and the others become its clients', () => {
  const lan = new Lan();
  for (const [id, p] of [
    ['C', 2],
    ['A', 0],
    ['B', 1],
  ] as const)
    lan.add(id, p);
  for (const id of ['A', 'B', 'C']) lan.start(id);
  lan.run(3n * S);
  assert.is(lan.role('A'), Role.Server);
  assert.is(lan.role('B'), Role.Client);
  assert.is(lan.nodes.get('C')!.e.leader?.id, 'A');
});

test('seed: a node that cannot serve retries a bounded number of times, then the next in succession takes over', () => {
  const lan = new Lan();
  lan.add('A', 0, { failServes: 99 });
  lan.add('B', 1);
  for (const id of ['A', 'B']) lan.start(id);
  lan.run(10n * S);
  const tries = lan.nodes.get('A')!.sent.filter((a) => a.type === 'serve' && a.on).length;
  assert.is(tries, 3, 'three attempts, as in the seed');
  assert.is(lan.role('B'), Role.Server);
  assert.is(lan.role('A'), Role.Client);
});

test('seed: a later node asking finds the server and joins it, even with a better priority (no preemption)', () => {
  const lan = new Lan();
  lan.add('B', 1);
  lan.add('C', 2);
  lan.add('A', 0);
  lan.start('B');
  lan.start('C');
  lan.run(5n * S);
  lan.start('A');
  lan.run(10n * S);
  assert.is(lan.role('B'), Role.Server);
  assert.is(lan.role('A'), Role.Client);
});

test('seed: two servers meet; both reach the same verdict and the lower priority steps down', () => {
  const lan = new Lan();
  lan.add('B', 1);
  lan.add('D', 3);
  lan.cut('B', 'D'); // a partition: each serves its own side
  lan.start('B');
  lan.start('D');
  lan.run(3n * S);
  assert.is(lan.role('B'), Role.Server);
  assert.is(lan.role('D'), Role.Server);
  lan.cuts.clear(); // the link heals
  lan.run(8n * S);
  assert.is(lan.role('B'), Role.Server, 'B (priority 1) keeps serving');
  assert.is(lan.role('D'), Role.Client, 'D (priority 3) steps down');
  assert.is(lan.nodes.get('D')!.e.leader?.id, 'B', 'and follows B');
});

test('a client answers with its server, so an asker follows it to the real server', () => {
  const lan = new Lan();
  lan.add('A', 0);
  lan.add('B', 1);
  lan.add('C', 2);
  lan.start('A', ['A', 'B']);
  lan.start('B', ['A', 'B']);
  lan.run(5n * S);
  lan.start('C', ['B']); // C knows only B's address
  lan.run(10n * S);
  assert.is(lan.role('C'), Role.Client);
  assert.is(lan.nodes.get('C')!.e.leader?.id, 'A', 'C learnt of A through B and follows A, not B');
});

test('boot: a node asks the cluster in doubling batches, and one that hears of a better node stops asking', () => {
  const lan = new Lan();
  for (let i = 0; i < 40; i++) lan.add(`n${String(i).padStart(2, '0')}`, i);
  const queries = (id: string) => lan.nodes.get(id)!.sent.filter((a) => a.type === 'send' && a.msgType === MsgType.Query).length;
  // Alone, the best node sweeps everyone: 4, then 8, 16, and the last 12, an interval apart.
  lan.start('n00');
  assert.is(queries('n00'), 4, 'the first batch only');
  lan.run(S / 2n);
  assert.is(queries('n00'), 40, 'every address by half a beat (its own included, once)');
  // A worse node booting now hears n00 in its first batch or its answers, and asks no further.
  for (let i = 1; i < 40; i++) lan.start(`n${String(i).padStart(2, '0')}`);
  lan.run(3n * S);
  assert.is(lan.role('n00'), Role.Server);
  for (let i = 1; i < 40; i++) assert.is(lan.nodes.get(`n${String(i).padStart(2, '0')}`)!.e.leader?.id, 'n00');
  // Counted: its sweep, and the challenges it sends back to nodes that first spoke to it. Asking everyone was 39 and more.
  const asked = [...lan.nodes.keys()]
    .filter((id) => id !== 'n00')
    .map(queries)
    .sort((a, b) => a - b);
  assert.ok(asked[asked.length >> 1]! <= 12 && asked.at(-1)! <= 20, `booting nodes asked ${asked.join(',')} times`);
});

test('a node of wire version 1 is named once per address and its words change nothing', () => {
  const lan = new Lan();
  const a = lan.add('A', 0);
  lan.start('A');
  // A version-1 datagram: one of B's with byte 2 set to 1.
  lan.add('B', 1);
  lan.start('B');
  const bytes = Uint8Array.from(lan.nodes.get('B')!.sent.find((x): x is ElectionAction & { type: 'send' } => x.type === 'send')!.bytes, (v, i) =>
    i === 2 ? 1 : v,
  );
  const from = { address: '10.0.0.9', port: 12300 };
  const first = a.onMessage(bytes, from, lan.now, lan.rng);
  const again = a.onMessage(bytes, from, lan.now, lan.rng);
  assert.equal(first, [{ type: 'event', event: { kind: 'old-version', address: '10.0.0.9', version: 1 } }]);
  assert.equal(again, []);
  assert.is(a.counters.dropVersion, 2);
  assert.is(decodeMessage(bytes).ok, false);
});

test('replays and unverified words change nothing', () => {
  const lan = new Lan();
  lan.add('A', 0);
  lan.add('B', 1);
  lan.add('Z', 0);
  lan.cut('Z', 'A');
  lan.cut('Z', 'B');
  for (const id of ['A', 'B', 'Z']) lan.start(id);
  lan.run(4n * S);
  const a = lan.nodes.get('A')!;
  const b = lan.nodes.get('B')!;
  const beat = b.sent
    .filter(
      (x): x is Extract<ElectionAction, { type: 'send' }> => x.type === 'send' && x.msgType === MsgType.Status && (x.to as Addr).address === a.addr.address,
    )
    .at(-1)!;
  const before = a.e.counters.dropReplay;
  a.e.onMessage(beat.bytes, b.addr, lan.now, lan.rng);
  assert.is(a.e.counters.dropReplay, before + 1, 'a replayed heartbeat is dropped');
  // Z serves on its own; its word (role Server, priority 0), arriving out of the blue, is challenged, not believed.
  const z = lan.nodes.get('Z')!;
  assert.is(z.e.role, Role.Server);
  const claim = z.sent.filter((x): x is Extract<ElectionAction, { type: 'send' }> => x.type === 'send').at(-1)!;
  assert.is((decodeMessage(claim.bytes) as { msg: { role: Role } }).msg.role, Role.Server);
  const out = a.e.onMessage(claim.bytes, z.addr, lan.now, lan.rng);
  assert.is(a.e.role, Role.Server, 'A still serves');
  assert.ok(
    out.some((x) => x.type === 'send' && x.msgType === MsgType.Query),
    'A challenges the stranger',
  );
  assert.ok(
    a.e.peers(lan.now).every((p) => p.id !== 'Z'),
    'and does not list it',
  );
});

test.run();
