// chronyd -x pointed at a cluster's server node and at one of its client
// nodes sees what docs/election.md ("Seen from NTP") says: the server at the
// local stratum with refid 127.127.1.1, the client one stratum below with
// the server's address as refid.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { startChronyd } from '../helpers/chrony.js';
import { DaemonProc, waitStatuses } from '../helpers/daemon.js';
import { need, testIf } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const enabled = need('chronyd', 'chrony as a client of the daemons') && need('chronyc', "reading chronyd's view");
const t = testIf(enabled, 'chronyd and chronyc are not installed');
const SERVER = '127.77.2.1';
const CLIENT = '127.77.2.2';
const NTP_PORT = 11193;

function chronyc(dir: string, ...args: string[]): string {
  return execFileSync('chronyc', ['-h', path.join(dir, 'chronyd.sock'), '-n', ...args], { encoding: 'utf8', timeout: 5000 });
}

t('chronyd sees the server node at stratum 10 / 127.127.1.1 and a client node at 11 / the server address', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'ct-chrony-cluster-'));
  const peers = [`${SERVER}:12393`, `${CLIENT}:12393`];
  const common = { ntpPort: NTP_PORT, clusterPort: 12393, peers };
  const s = DaemonProc.write(path.join(base, 's'), { ...common, id: 's', priority: 0, address: SERVER, start: null, trusted: true }).start();
  const c = DaemonProc.write(path.join(base, 'c'), { ...common, id: 'c', priority: 1, address: CLIENT, start: '1970-01-01T00:00:00Z' }).start();
  let chrony: Awaited<ReturnType<typeof startChronyd>> | null = null;
  try {
    await waitStatuses([s, c], 'c to follow s', (ss) => ss[0]?.role === 'server' && ss[1]?.role === 'client' && ss[1].synced, 20_000);
    chrony = await startChronyd([
      `server ${SERVER} port ${NTP_PORT} iburst minpoll 0 maxpoll 0`,
      `server ${CLIENT} port ${NTP_PORT} iburst minpoll 0 maxpoll 0`,
      'bindcmdaddress $DIR/chronyd.sock',
    ]);
    const dir = chrony.dir;
    const data = (addr: string) => chronyc(dir, 'ntpdata', addr);
    await waitFor(
      'chronyd to hear both nodes',
      () => /Total valid RX\s*:\s*[1-9]/.test(data(SERVER)) && /Total valid RX\s*:\s*[1-9]/.test(data(CLIENT)),
      20_000,
    );
    const sd = data(SERVER);
    assert.match(sd, /Stratum\s*:\s*10\b/);
    assert.match(sd, /Reference ID\s*:\s*7F7F0101/);
    assert.match(sd, /Leap status\s*:\s*Normal/);
    const cd = data(CLIENT);
    assert.match(cd, /Stratum\s*:\s*11\b/);
    assert.match(cd, /Reference ID\s*:\s*7F4D0201/, 'refid = 127.77.2.1, the server');
    assert.match(cd, /Leap status\s*:\s*Normal/);
    assert.match(cd, /NTP tests\s*:\s*111 111 1111/);
  } finally {
    await chrony?.stop();
    await s.stop();
    await c.stop();
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
