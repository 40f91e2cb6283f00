// One daemon as a user meets it: the embedded default serving time that
// `clocktower query` accepts, config errors with file:line and exit 2, a
// corrupt state file ignored, a second daemon on the same state dir refused.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { UdpEndpoint } from '../../src/native/udp.js';
import { runCli } from '../helpers/cli.js';
import { DaemonProc, waitStatuses } from '../helpers/daemon.js';
import { waitFor } from '../helpers/wait.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'ct-daemon-'));

test('the embedded default elects itself, says how to look, and serves time clocktower query accepts', async () => {
  const dir = tmp();
  const n = new DaemonProc('default', dir, null).start();
  try {
    await waitFor('the hint', () => /this node is the NTP server on 127\.0\.0\.1:11123; try: clocktower status/.test(n.output), 15_000);
    const [s] = await waitStatuses([n], 'status', (ss) => ss[0] !== null, 3000);
    assert.is(s!.role, 'server');
    assert.is(s!.clock.mode, 'virtual');
    const q = await runCli(['query', '127.0.0.1:11123', '--count', '2', '--json']);
    assert.is(q.code, 0, q.stderr);
    const r = JSON.parse(q.stdout)[0];
    assert.is(r.ok, true);
    assert.is(r.stratum, 10);
    assert.is(r.refid, '127.127.1.1');
    const st = await runCli(['status', '--socket', n.socket]);
    assert.is(st.code, 0, st.stderr);
    assert.match(st.stdout, /role\s+server/);
    const js = await runCli(['status', '--socket', n.socket, '--json']);
    const j = JSON.parse(js.stdout);
    for (const k of ['id', 'priority', 'role', 'leader', 'stratum', 'clock', 'peers', 'ntp']) assert.ok(k in j, `status --json has ${k}`);
    assert.type(j.clock.offset_from_system_ns, 'string');
    assert.ok(j.ntp.counters.answered >= 2, 'the answers are counted');
    assert.is(await n.stop(), 0);
    assert.match(n.output, /stopped/);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [what, body, line, key] of [
  ['unknown key', '[node]\nid = "x"\ncolour = "blue"\n', 3, 'node.colour'],
  ['bad duration', '[node]\nid = "x"\n[cluster]\nheartbeat = "1 fortnight"\n', 4, 'cluster.heartbeat'],
  ['bad address', '[ntp]\nlisten = ["127.0.0.1:123",\n  "127.0.0.256:123"]\n', 3, 'ntp.listen.2'],
] as const) {
  test(`a config with a ${what} is refused with file:line and exit 2 (run and check-config)`, async () => {
    const dir = tmp();
    const f = path.join(dir, 'bad.toml');
    writeFileSync(f, body);
    try {
      for (const cmd of [
        ['run', '--config', f],
        ['check-config', f],
      ]) {
        const r = await runCli(cmd);
        assert.is(r.code, 2, `${cmd[0]}: ${r.stderr}`);
        assert.ok(r.stderr.includes(`${f}:${line}: ${key}: `), `${cmd[0]} names file, line and key: ${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a garbage state file is reported and ignored; a second daemon on the same state dir is refused', async () => {
  const dir = tmp();
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'state.json'), '{"version":1,"floor_ns":');
  const spec = { id: 'solo', priority: 0, address: '127.77.1.1', ntpPort: 11192, clusterPort: 12392, peers: [], start: null };
  const n = DaemonProc.write(dir, spec).start();
  try {
    await waitStatuses([n], 'the daemon to answer', (ss) => ss[0] !== null, 15_000);
    assert.match(n.output, /state\.json: ignored, not a valid state file/);
    const second = await runCli(['run', '--config', n.config!]);
    assert.is(second.code, 1);
    assert.match(second.stderr, new RegExp(`another clocktower \\(pid ${n.child.pid}\\) is running`));
    await waitStatuses([n], 'the lone node to serve', (ss) => ss[0]?.role === 'server', 10_000);
    assert.is(await n.stop(), 0);
    // Stopping saved a valid state in place of the garbage.
    const saved = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8'));
    assert.is(saved.version, 1);
    assert.ok(BigInt(saved.floor_ns) > 1_700_000_000_000_000_000n);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('[ntp] threads = 2: clients from many ports are answered by three sockets on one port, all with the served state; status sums them', async () => {
  const dir = tmp();
  const spec = {
    id: 'threaded',
    priority: 0,
    address: '127.77.1.4',
    ntpPort: 11198,
    clusterPort: 12398,
    peers: [],
    start: '2031-05-05T00:00:00Z',
    ntpExtra: ['threads = 2'],
  };
  const n = DaemonProc.write(dir, spec).start();
  const got: Uint8Array[][] = [];
  const eps = Array.from({ length: 40 }, (_, i) => {
    got[i] = [];
    return new UdpEndpoint(
      { address: '127.0.0.1' },
      {
        onBatch: (b) => {
          for (let j = 0; j < b.count; j++) got[i]!.push(Uint8Array.from(b.data(j)));
        },
      },
    );
  });
  try {
    await waitStatuses([n], 'the lone node to serve', (ss) => ss[0]?.role === 'server', 15_000);
    const req = new Uint8Array(48);
    req[0] = 0x23; // LI 0, VN 4, mode 3
    req[47] = 1;
    // The served state reaches the worker threads by message: ask until every client has a stratum-10 answer.
    await waitFor(
      'every client answered by a synchronised server',
      () => {
        eps.forEach((ep) => ep.send(req, 11198, '127.77.1.4'));
        return got.every((g) => g.some((d) => d[1] === 10));
      },
      5000,
    );
    for (const g of got) {
      const d = g.find((x) => x[1] === 10)!;
      const secs = new DataView(d.buffer, d.byteOffset).getUint32(40);
      // The virtual clock started in 2031: every thread serves it, not the system time (2031-01-01 is 4 133 980 800 NTP s).
      assert.ok(secs > 4_133_980_800, `transmit ${secs}`);
    }
    const [s] = await waitStatuses([n], 'counters', (ss) => (ss[0]?.ntp.counters.answered ?? 0) >= 40, 3000);
    assert.is(s!.ntp.listen[0]!.threads, 2);
    assert.match(n.output, /serving NTP.*threads.*3/, n.output.slice(0, 1500));
  } finally {
    eps.forEach((e) => e.close());
    assert.is(await n.stop(), 0, n.output.slice(-3000));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cluster port already taken: exit 1 naming the address, and the lock is released', async () => {
  const dir = tmp();
  const spec = { id: 'blocked', priority: 0, address: '127.77.1.3', ntpPort: 11197, clusterPort: 12397, peers: [], start: null };
  const n = DaemonProc.write(dir, spec);
  const squatter = new UdpEndpoint({ address: '127.77.1.3', port: 12397 });
  try {
    const r = await runCli(['run', '--config', n.config!]);
    assert.is(r.code, 1);
    assert.match(r.stderr, /cannot listen for the cluster on 127\.77\.1\.3:12397/);
    assert.not.ok(existsSync(path.join(dir, 'clocktower.lock')), 'the lock is released');
  } finally {
    squatter.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('clocktower sync: without CAP_SYS_TIME it says so and changes nothing; --dry-run shows the step from a 1970 server', async () => {
  const dir = tmp();
  const spec = { id: 'old', priority: 0, address: '127.77.1.2', ntpPort: 11194, clusterPort: 12394, peers: [], start: '1970-01-01T00:00:00Z' };
  const n = DaemonProc.write(dir, spec).start();
  try {
    await waitStatuses([n], 'the 1970 node to serve', (ss) => ss[0]?.role === 'server', 15_000);
    const refused = await runCli(['sync', '127.77.1.2:11194']);
    assert.is(refused.code, 1);
    assert.match(refused.stderr, /needs CAP_SYS_TIME.*nothing was changed/);
    const dry = await runCli(['sync', '127.77.1.2:11194', '--dry-run', '--json']);
    assert.is(dry.code, 0, dry.stderr);
    const j = JSON.parse(dry.stdout);
    assert.is(j.action, 'step');
    assert.is(j.dry_run, true);
    const offsetS = Number(BigInt(j.offset_ns) / 1_000_000_000n);
    assert.ok(Math.abs(offsetS + Date.now() / 1000) < 60, `offset ${offsetS} s takes the clock back to 1970`);
    const slew = await runCli(['sync', '127.77.1.2:11194', '--dry-run', '--slew']);
    assert.is(slew.code, 1);
    assert.match(slew.stderr, /too large to slew/);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
