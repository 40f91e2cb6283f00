// A node with an upstream outranks the cluster and passes the upstream's
// stratum and leap warning on: upstream (stratum 2, leap "insert") -> U
// (stratum 3) -> C (stratum 4), all with leap 1, both clocks stepped from 1970
// to the upstream's time. C has the better priority; U's upstream time wins.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { realtimeNs } from '../../src/native/clock.js';
import { NtpServer } from '../../src/native/server.js';
import { DaemonProc, waitStatuses } from '../helpers/daemon.js';

/**
 * How far from the upstream's time a node may be the moment the cluster is synced. Natively the exchanges
 * are kernel-stamped both ways and the error is microseconds. Under qemu-user (test:arm) there are no TX
 * stamps and the emulated send path puts 0.2-1.5 ms into each round trip, which the first exchanges (the
 * ones the clocks step on) carry as error up to half that, at each of the two hops.
 */
const TOLERANCE_NS = process.env.CLOCKTOWER_TEST_EMULATOR ? 5_000_000 : 1_000_000;

test('upstream time outranks priority; stratum and the leap warning propagate through the cluster; metrics are served', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'ct-upstream-'));
  const upstream = new NtpServer({ address: '127.77.4.9', port: 11196 });
  const now = realtimeNs();
  upstream.setState(
    { leap: 1, stratum: 2, precisionLog2: -20, refId: 0x47505300, referenceNs: now, rootDelayNs: 1_000_000, rootDispersionNs: 500_000 },
    { refSysNs: now, refNodeNs: now, freqPpm: 0 },
  );
  const peers = ['127.77.4.1:12396', '127.77.4.2:12396'];
  const common = { ntpPort: 11196, clusterPort: 12396, peers, start: '1970-01-01T00:00:00Z' };
  const u = DaemonProc.write(path.join(base, 'u'), {
    ...common,
    id: 'u',
    priority: 5,
    address: '127.77.4.1',
    extra: '[upstream]\nservers = [{ address = "127.77.4.9:11196", minpoll = 0, maxpoll = 2, iburst = true }]\n[metrics]\nlisten = "127.77.4.1:9196"',
  }).start();
  const c = DaemonProc.write(path.join(base, 'c'), { ...common, id: 'c', priority: 0, address: '127.77.4.2' }).start();
  try {
    const [us, cs] = await waitStatuses(
      [u, c],
      'U to serve upstream time and C to follow',
      (ss) => ss[0]?.role === 'server' && ss[1]?.role === 'client' && ss[1].leader?.id === 'u' && ss[1].synced && ss[1].stratum === 4,
      30_000,
    );
    assert.is(us!.stratum, 3);
    assert.is(us!.leap, 1);
    assert.is(us!.ref_id, '127.77.4.9');
    assert.is(cs!.leap, 1);
    assert.is(cs!.ref_id, '127.77.4.1');
    for (const s of [us!, cs!])
      assert.ok(
        Math.abs(Number(BigInt(s.clock.offset_from_system_ns))) < TOLERANCE_NS,
        `${s.id} runs at the upstream's time (${s.clock.offset_from_system_ns} ns from the system clock)`,
      );
    // The upstream runs on the system clock, so each of U's samples can be checked against the truth: RFC 5905
    // §8 bounds a sample's error by half its round trip (the local clock's distance from the system clock is
    // logged just after the exchange; the 5 µs allow for its slew in between and the µs stamps of qemu).
    // Natively T1 is the kernel's TX stamp, taken after the user-space one (t1_kernel_lag_ns ≥ 0); qemu-user has none.
    const samples = [
      ...u.output.matchAll(
        /^DEBUG sample source=upstream1\S* offset_ns=(-?\d+) delay_ns=([\d.]+) \S+ local_minus_sys_ns=(-?\d+)(?: t1_kernel_lag_ns=(-?\d+))?$/gm,
      ),
    ];
    assert.ok(samples.length >= 2, `U logged its samples:\n${u.output}`);
    for (const [line, offsetNs, delayNs, localMinusSysNs, lagNs] of samples) {
      const errorNs = Number(BigInt(offsetNs!) + BigInt(localMinusSysNs!));
      assert.ok(Math.abs(errorNs) <= Number(delayNs) / 2 + 5000, `sample error ${errorNs} ns within half the round trip: ${line}`);
      if (!process.env.CLOCKTOWER_TEST_EMULATOR) assert.ok(lagNs !== undefined && Number(lagNs) >= 0, `T1 from the kernel's TX stamp: ${line}`);
    }
    const text = await (await fetch('http://127.77.4.1:9196/metrics')).text();
    assert.match(text, /^# TYPE clocktower_role gauge$/m);
    assert.match(text, /^clocktower_role\{role="server"\} 1$/m);
    assert.match(text, /^clocktower_stratum 3$/m);
    assert.match(text, /^clocktower_leap 1$/m);
    assert.match(text, /^clocktower_ntp_requests_total\{result="answered"\} [1-9]\d*$/m);
    assert.match(text, /^clocktower_election_messages_sent_total\{type="status"\} [1-9]\d*$/m);
    for (const line of text.trim().split('\n'))
      assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="[^"]*",?)+\})? -?[\d.e+-]+)$/, `exposition line: ${line}`);
  } finally {
    await u.stop();
    await c.stop();
    upstream.close();
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
