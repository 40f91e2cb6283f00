// NTS in the daemon (RFC 8915): the elected server runs NTS-KE and answers
// NTS in its native server; a node with `[ntp] nts = true` reaches it only
// through NTS. Two daemons on loopback, booted at 1970 on virtual clocks,
// certificates made in the test. Also: a corrupt master-key file is reported
// and replaced; the first-boot rule (cert_time_check_after = "nts-sync") lets
// a board take its first time from a server whose certificate its clock
// cannot judge, and enforces dates once it has synchronised from NTS.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import type { Status } from '../../src/daemon/status.js';
import { datedCerts, hasPythonCryptography, selfSignedCert } from '../helpers/certs.js';
import { converged, DaemonProc, waitStatuses } from '../helpers/daemon.js';
import { need, testIf } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const addr = (i: number) => `127.77.3.${11 + i}`;
const CLUSTER_PORT = 12393;
const NTP_PORT = 11193;
const KE_PORT = 14460;

const t = testIf(need('openssl', 'certificates for the NTS tests'), 'openssl is not installed');
const dated = testIf(hasPythonCryptography(), "Python's cryptography is not installed (dated certificates)");

/** A server p0 with a certificate for its address, and a client p1 that requires NTS (extra [nts] lines for p1). */
function pair(base: string, cert: { cert: string; key: string }, ca: string, clientNts: string[] = []) {
  const files = path.join(base, 'pki');
  mkdirSync(files, { recursive: true });
  writeFileSync(path.join(files, 'cert.pem'), cert.cert);
  writeFileSync(path.join(files, 'key.pem'), cert.key, { mode: 0o600 });
  writeFileSync(path.join(files, 'ca.pem'), ca);
  const peers = [0, 1].map((i) => `${addr(i)}:${CLUSTER_PORT}`);
  const spec = (id: string, i: number, nts: string[], ntpExtra: string[] = []) => ({
    id,
    priority: i,
    address: addr(i),
    ntpPort: NTP_PORT,
    clusterPort: CLUSTER_PORT,
    peers,
    start: '1970-01-01T00:00:00Z',
    ntpExtra,
    extra: ['[nts]', `listen = "${addr(i)}:${KE_PORT}"`, ...nts].join('\n'),
  });
  const p0 = DaemonProc.write(path.join(base, 'p0'), spec('p0', 0, [`certificate = "${files}/cert.pem"`, `private_key = "${files}/key.pem"`]));
  const p1 = DaemonProc.write(path.join(base, 'p1'), spec('p1', 1, [`ca = "${files}/ca.pem"`, ...clientNts], ['nts = true']));
  return { p0, p1 };
}

/** The leader source's NTS state (listed under sources: before a sync it is not the selected `source`). */
const leaderOf = (s: Status | null) => s?.sources.find((x) => x.id === 'p0') ?? null;
const ntsOf = (s: Status | null) => leaderOf(s)?.nts ?? null;

t('the elected server serves NTS; a client with [ntp] nts = true follows it within 1 ms through NTS only', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'ct-nts-'));
  const c = selfSignedCert({ names: [], ips: [addr(0)] });
  const { p0, p1 } = pair(base, c, c.cert);
  // A corrupt key file in the server's state dir: reported, replaced, never fatal.
  mkdirSync(p0.dir, { recursive: true });
  writeFileSync(path.join(p0.dir, 'nts-keys.json'), '{"version":1,"keys":"garbage"');
  try {
    p0.start();
    p1.start();
    const [s0, s1] = await waitStatuses([p0, p1], 'p1 to follow p0 within 1 ms', converged('p0', ['p0', 'p1']), 60_000, 250);
    assert.is(s1!.source!.id, 'p0');
    const n = ntsOf(s1)!;
    assert.ok(n, 'the source is an NTS source');
    assert.ok(n.ke_runs >= 1 && n.cookies >= 1, `cookies held: ${JSON.stringify(n)}`);
    assert.ok(s1!.source!.accepted >= 1);
    // Every sample p1 took came through NTS: the server answered as many NTS requests as p1 accepted answers.
    const later = await waitStatuses([p0, p1], 'a few more samples', (ss) => (ss[1]?.source?.accepted ?? 0) >= 4, 30_000, 250);
    const served = later[0]!.ntp.counters;
    assert.ok((served['answeredNts'] ?? 0) >= later[1]!.source!.accepted, `answeredNts ${served['answeredNts']} for ${later[1]!.source!.accepted} accepted`);
    assert.is(served['ntsNak'], 0);
    const ke = later[0]!.ntp.nts.ke_server!;
    assert.ok(ke && ke.sessions >= 1 && ke.port === KE_PORT, JSON.stringify(later[0]!.ntp.nts));
    assert.is(s0!.ntp.nts.master_keys, 1);
    // The master keys: saved, private to the daemon, the corrupt file reported.
    const keyFile = path.join(p0.dir, 'nts-keys.json');
    assert.is(statSync(keyFile).mode & 0o777, 0o600);
    assert.is((JSON.parse(readFileSync(keyFile, 'utf8')) as { keys: unknown[] }).keys.length, 1);
    assert.match(p0.output, /not a valid NTS key file/);
    assert.match(p1.output, /nts-ke: session/);
  } finally {
    await p1.stop();
    await p0.stop();
    rmSync(base, { recursive: true, force: true });
  }
});

t('a client that requires NTS does not take time from a server whose certificate it does not trust', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'ct-nts-'));
  const c = selfSignedCert({ names: [], ips: [addr(0)] });
  const other = selfSignedCert({ names: [], ips: [addr(0)] });
  const { p0, p1 } = pair(base, c, other.cert);
  try {
    p0.start();
    p1.start();
    const [, s1] = await waitStatuses([p0, p1], 'p1 to fail NTS-KE twice', (ss) => (ntsOf(ss[1])?.ke_failures ?? 0) >= 2, 30_000, 250);
    assert.is(s1!.synced, false, 'never synchronised');
    assert.is(leaderOf(s1)!.accepted, 0);
    assert.match(ntsOf(s1)!.last_error ?? '', /not trusted|self.signed|SELF_SIGNED/i);
    assert.match(p1.output, /nts-ke failed/);
  } finally {
    await p1.stop();
    await p0.stop();
    rmSync(base, { recursive: true, force: true });
  }
});

dated(
  'first boot (cert_time_check_after = "nts-sync"): time from a server whose certificate is not yet valid, then dates enforced after a restart',
  async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'ct-nts-'));
    const year = new Date().getUTCFullYear();
    // Not yet valid by this machine's clock: what every certificate looks like to a board at its factory date.
    const c = datedCerts({ ips: [addr(0)], notBefore: `${year + 1}-01-01T00:00:00Z`, notAfter: `${year + 2}-01-01T00:00:00Z` });
    const { p0, p1 } = pair(base, c.leaf, c.ca, ['cert_time_check_after = "nts-sync"']);
    try {
      p0.start();
      p1.start();
      await waitStatuses([p0, p1], 'p1 to follow p0 through NTS', converged('p0', ['p0', 'p1']), 60_000, 250);
      const stateFile = path.join(p1.dir, 'state.json');
      await waitFor('the NTS sync to be saved', () => existsSync(stateFile) && /"nts_time_set":true/.test(readFileSync(stateFile, 'utf8')), 10_000);
      assert.match(p1.output, /certificate dates count from now on/);
      // Restarted, the board has had its time from NTS once: the certificate's dates count now, and it is refused.
      await p1.stop();
      p1.output = '';
      p1.start();
      const [s1] = await waitStatuses([p1], 'p1 to refuse the certificate', (ss) => (ntsOf(ss[0])?.ke_failures ?? 0) >= 1, 30_000, 250);
      assert.match(ntsOf(s1)!.last_error ?? '', /CERT_NOT_YET_VALID/);
    } finally {
      await p1.stop();
      await p0.stop();
      rmSync(base, { recursive: true, force: true });
    }
  },
);

test.run();
