// Faults a board meets unattended, on real daemon processes: a server that
// hangs (SIGSTOP) and comes back, a state directory that turns read-only or
// fills up, a truncated state file, a config reload that does not check.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { UdpEndpoint } from '../../src/native/udp.js';
import { DaemonProc, nodeConfig, waitStatuses, type NodeSpec } from '../helpers/daemon.js';
import { waitFor } from '../helpers/wait.js';
import { testIf } from '../helpers/tools.js';

const tmp = (tag: string) => mkdtempSync(path.join(tmpdir(), `ct-faults-${tag}-`));

/** One NTP request to host:port; resolves with the stratum of the answer, or null after 500 ms. */
async function ask(host: string, port: number): Promise<number | null> {
  let stratum: number | null = null;
  const ep = new UdpEndpoint({ address: '127.0.0.1' }, { onBatch: (b) => (stratum = b.data(0)[1]!) });
  try {
    const req = new Uint8Array(48);
    req[0] = 0x23;
    ep.send(req, port, host);
    await waitFor('answer', () => stratum !== null, 500).catch(() => undefined);
    return stratum;
  } finally {
    ep.close();
  }
}

test('a hung server (SIGSTOP) is replaced; when it resumes it follows the new server instead of fighting', async () => {
  const base = tmp('stop');
  const peers = ['127.77.7.1:12393', '127.77.7.2:12393'];
  const common = { ntpPort: 11193, clusterPort: 12393, peers, start: null };
  const a = DaemonProc.write(path.join(base, 'a'), { ...common, id: 'a', priority: 0, address: '127.77.7.1' }).start();
  const b = DaemonProc.write(path.join(base, 'b'), { ...common, id: 'b', priority: 1, address: '127.77.7.2' }).start();
  try {
    await waitStatuses([a, b], 'a serves, b follows', (ss) => ss[0]?.role === 'server' && ss[1]?.leader?.id === 'a' && ss[1].synced, 20_000);
    a.kill('SIGSTOP');
    const t0 = Date.now();
    await waitStatuses([b], 'b to take over from the hung a', (ss) => ss[0]?.role === 'server', 10_000);
    const tookMs = Date.now() - t0;
    assert.ok((await ask('127.77.7.2', 11193)) !== null, 'b answers NTP');
    a.kill('SIGCONT');
    const tail = (d: DaemonProc) =>
      d.output
        .split('\n')
        .filter((l) => !l.startsWith('DEBUG'))
        .slice(-25)
        .join('\n');
    await waitStatuses(
      [a, b],
      "a to come back as b's client",
      (ss) => ss[0]?.role === 'client' && ss[0].leader?.id === 'b' && ss[1]?.role === 'server',
      10_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n-- a --\n${tail(a)}\n-- b --\n${tail(b)}`);
    });
    // No fight afterwards: b stays the server for the next three seconds.
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      const [sa, sb] = await waitStatuses([a, b], 'statuses', (ss) => ss.every(Boolean), 2000);
      assert.is(sb!.role, 'server', 'b keeps serving');
      assert.is(sa!.leader?.id, 'b', 'a keeps following b');
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(tookMs < 6000, `replaced in ${tookMs} ms`);
    assert.match(a.output, /daemon stalled/, 'a noticed its own hang');
    assert.match(a.output, /role server -> none why="stalled; the cluster may have moved on"/, 'and stepped down');
  } finally {
    a.kill('SIGCONT');
    await a.stop();
    await b.stop();
    rmSync(base, { recursive: true, force: true });
  }
});

const canMount = spawnSync('unshare', ['-m', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d" && rmdir "$d"']).status === 0;

testIf(canMount, 'no mount namespace here')('a state directory that turns read-only, then full: reported, the node keeps serving', async () => {
  const dir = tmp('statedir');
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const spec: NodeSpec = {
    id: 'rofull',
    priority: 0,
    address: '127.77.7.3',
    ntpPort: 11193,
    clusterPort: 12393,
    peers: [],
    start: null,
    stateExtra: ['save_interval = "1s"'],
  };
  const config = path.join(dir, 'clocktower.toml');
  writeFileSync(config, nodeConfig(dir, spec).replace(`dir = "${dir}"`, `dir = "${state}"`));
  const n = new DaemonProc('rofull', dir, config);
  // The daemon in its own mount namespace, on a 64 KiB tmpfs state dir the test can remount or fill.
  n.wrap = ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"', state];
  n.start();
  const inNs = (cmd: string) => execFileSync('nsenter', ['-t', String(n.child.pid), '-m', 'sh', '-c', cmd], { stdio: 'pipe' });
  try {
    await waitStatuses([n], 'the node to serve', (ss) => ss[0]?.role === 'server', 15_000);
    await waitFor('a first save', () => inNs(`cat "${state}/state.json" 2>/dev/null || true`).length > 0, 5000);
    inNs(`mount -o remount,ro "${state}"`);
    await waitFor('the read-only dir reported', () => /cannot save state.*EROFS/.test(n.output), 5000);
    assert.is(await ask('127.77.7.3', 11193), 10, 'still answering NTP');
    inNs(`mount -o remount,rw "${state}" && rm -f "${state}/state.json" && (dd if=/dev/zero of="${state}/fill" bs=4k 2>/dev/null || true)`);
    await waitFor('the full dir reported', () => /cannot save state.*ENOSPC/.test(n.output), 5000);
    assert.is(await ask('127.77.7.3', 11193), 10, 'still answering NTP');
    const [s] = await waitStatuses([n], 'status', (ss) => ss[0] !== null, 2000);
    assert.is(s!.role, 'server');
    // Space back: the next save works again.
    inNs(`rm -f "${state}/fill"`);
    await waitFor('a save after space returns', () => inNs(`cat "${state}/state.json" 2>/dev/null || true`).length > 0, 5000);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated (empty) state file is reported and ignored', async () => {
  const dir = tmp('trunc');
  writeFileSync(path.join(dir, 'state.json'), '');
  const n = DaemonProc.write(dir, { id: 'trunc', priority: 0, address: '127.77.7.4', ntpPort: 11193, clusterPort: 12393, peers: [], start: null }).start();
  try {
    await waitStatuses([n], 'the node to serve', (ss) => ss[0]?.role === 'server', 15_000);
    assert.match(n.output, /state\.json: ignored, not a valid state file/);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP with a config that does not check: reported, the running rules kept; a good one then applies', async () => {
  const dir = tmp('reload');
  const spec: NodeSpec = {
    id: 'reload',
    priority: 0,
    address: '127.77.7.5',
    ntpPort: 11193,
    clusterPort: 12393,
    peers: [],
    start: null,
    ntpExtra: ['deny = ["127.0.0.1/32"]', 'deny_action = "drop"'],
  };
  const n = DaemonProc.write(dir, spec).start();
  const config = n.config!;
  try {
    await waitStatuses([n], 'the node to serve', (ss) => ss[0]?.role === 'server', 15_000);
    assert.is(await ask('127.77.7.5', 11193), null, 'denied at start');
    writeFileSync(config, readFileSync(config, 'utf8').replace('deny = ["127.0.0.1/32"]', 'deny = ["127.0.0.1/99"]'));
    n.kill('SIGHUP');
    await waitFor('the bad reload reported', () => /reload failed; keeping the running config/.test(n.output), 5000);
    assert.match(n.output, /clocktower\.toml:\d+: ntp\.deny\.1: /);
    assert.is(await ask('127.77.7.5', 11193), null, 'the old deny rule still holds');
    writeFileSync(config, readFileSync(config, 'utf8').replace('deny = ["127.0.0.1/99"]', 'deny = []'));
    n.kill('SIGHUP');
    await waitFor('the good reload applied', () => /reloaded/.test(n.output), 5000);
    assert.is(await ask('127.77.7.5', 11193), 10, 'answered once the deny rule is gone');
    assert.ok(n.running);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
