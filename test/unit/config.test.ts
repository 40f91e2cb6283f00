// The config schema: defaults, every kind of mistake named by file, line and
// key, and every config shipped in the repo valid.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { defaultConfig, parseConfig, parseDurationNs } from '../../src/daemon/config.js';
import { ConfigError } from '../../src/util/errors.js';
import { root } from '../helpers/cli.js';

function fails(text: string, line: number, key: string, problem: RegExp): void {
  try {
    parseConfig(text, 'x.toml');
  } catch (e) {
    assert.instance(e, ConfigError);
    const c = e as ConfigError;
    assert.is(c.file, 'x.toml');
    assert.is(c.line, line, `line of ${key}: ${c.message}`);
    assert.is(c.key, key, c.message);
    assert.match(c.message, problem);
    assert.ok(c.message.startsWith(`x.toml:${line}: `), c.message);
    return;
  }
  assert.unreachable(`accepted: ${text}`);
}

test('the embedded default is loopback-only, virtual, per-user', () => {
  const c = defaultConfig({ HOME: '/home/u', XDG_STATE_HOME: '/home/u/.st' } as NodeJS.ProcessEnv);
  assert.equal(c.ntp.listen, [{ host: '127.0.0.1', port: 11123 }]);
  assert.equal(c.cluster.listen, { host: '127.0.0.1', port: 12300 });
  assert.is(c.clock.mode, 'virtual');
  assert.is(c.clock.startNs, null);
  assert.is(c.state.dir, '/home/u/.st/clocktower');
  assert.is(c.control.socket, '/home/u/.st/clocktower/clocktower.sock');
  assert.is(c.file, null);
});

test('values: durations with units, lists, inline tables, RFC 3339 start', () => {
  const c = parseConfig(
    `[node]\nid = "n1"\npriority = 7\n[ntp]\nlisten = ["10.0.0.1:123", "[fd00::1]:1123"]\nrate_limit = { interval = "250ms", burst = 8 }\n` +
      `[cluster]\npeers = ["10.0.0.2", "10.0.0.3:12301"]\nheartbeat = "500ms"\n[upstream]\nservers = ["ntp.example:123", { address = "10.1.0.1", minpoll = 4, maxpoll = 17, iburst = false, key = 3 }]\n` +
      `[clock]\nstart = 1970-01-01T00:00:01.5Z\nstep_threshold = "1s"\n`,
    '/etc/ct/x.toml',
  );
  assert.is(c.node.priority, 7);
  assert.equal(c.ntp.listen[1], { host: 'fd00::1', port: 1123 });
  assert.equal(c.ntp.rateLimit, { intervalS: 0.25, burst: 8, kodIntervalS: 1 });
  assert.equal(c.cluster.peers, [
    { host: '10.0.0.2', port: 12300 },
    { host: '10.0.0.3', port: 12301 },
  ]);
  assert.is(c.cluster.heartbeatNs, 500_000_000n);
  assert.equal(c.upstream.servers[1], {
    host: '10.1.0.1',
    port: 123,
    minPollLog2: 4,
    maxPollLog2: 17,
    iburst: false,
    keyId: 3,
    interleaved: false,
    ntsPort: null,
  });
  assert.is(c.upstream.servers[0]!.iburst, true);
  assert.is(c.clock.startNs, 1_500_000_000n);
  assert.is(c.clock.stepThresholdNs, 1e9);
  assert.is(parseDurationNs('2m'), 120e9);
});

test('[nts]: defaults, files relative to the config, upstream nts, and its mistakes', () => {
  const c = parseConfig(
    '[ntp]\nnts = true\n[nts]\ncertificate = "pki/c.pem"\nprivate_key = "/etc/k.pem"\ncert_time_check_after = "nts-sync"\n[upstream]\nservers = [{ address = "time.example:123", nts = true }, "10.0.0.1"]\n',
    '/etc/clocktower/x.toml',
  );
  assert.equal(c.nts, {
    listen: { host: '0.0.0.0', port: 4460 },
    certificate: '/etc/clocktower/pki/c.pem',
    privateKey: '/etc/k.pem',
    ca: null,
    serverName: null,
    certTimeCheckAfter: 'nts-sync',
    keyRotationNs: 7n * 86_400_000_000_000n,
  });
  assert.is(c.ntp.nts, true);
  assert.equal(
    c.upstream.servers.map((u) => u.ntsPort),
    [4460, null],
  );
  assert.is(parseConfig('[node]\n', 'x.toml').nts, null);
  fails('[ntp]\nnts = true\n', 2, 'ntp.nts', /needs an \[nts\] table/);
  fails('[nts]\ncertificate = "c.pem"\n', 2, 'nts.certificate', /needs private_key/);
  fails('[nts]\nprivate_key = "k.pem"\n', 2, 'nts.private_key', /needs certificate/);
  fails('[nts]\ncert_time_check_after = "never"\n', 2, 'nts.cert_time_check_after', /"start", "nts-sync"/);
  fails('[nts]\nkey_rotation = "1s"\n', 2, 'nts.key_rotation', /between/);
  fails('[nts]\nlisten = "ke.example:4460"\n', 2, 'nts.listen', /not an IP address/);
  fails('[nts]\nlisten = "0.0.0.0:4460"\nkeyfile = "x"\n', 3, 'nts.keyfile', /unknown key/);
  fails('[upstream]\nservers = [{ address = "a", nts_port = 4461 }]\n', 2, 'upstream.servers.1.nts_port', /goes with nts = true/);
});

test('mistakes name file, line and key', () => {
  fails('[node]\nid = "a"\nprioritty = 1\n', 3, 'node.prioritty', /unknown key/);
  fails('[nodes]\nid = "a"\n', 1, 'nodes', /unknown table/);
  fails('[cluster]\n\nheartbeat = "5 parsecs"\n', 3, 'cluster.heartbeat', /bad duration/);
  fails('[cluster]\nheartbeat = 5\n', 2, 'cluster.heartbeat', /needs a unit/);
  fails('[cluster]\nheartbeat = "10ms"\n', 2, 'cluster.heartbeat', /between/);
  fails('[ntp]\nlisten = [\n  "0.0.0.0:123",\n  "not-an-ip:123",\n]\n', 4, 'ntp.listen.2', /not an IP address/);
  fails('[ntp]\nlisten = ["0.0.0.0:99999"]\n', 2, 'ntp.listen.1', /port must be/);
  fails('[ntp]\nallow = ["10.0.0.0/33"]\n', 2, 'ntp.allow.1', /prefix/);
  fails('[node]\npriority = -1\n', 2, 'node.priority', /0\.\.4294967295/);
  fails('[node]\npriority = "high"\n', 2, 'node.priority', /expected an integer/);
  fails('[clock]\nmode = "atomic"\n', 2, 'clock.mode', /"virtual", "system"/);
  fails('[clock]\nmode = "system"\nstart = "1970-01-01T00:00:00Z"\n', 3, 'clock.start', /only a virtual clock/);
  fails('[clock]\nstart = "yesterday"\n', 2, 'clock.start', /RFC 3339/);
  fails(
    '[upstream]\nservers = [\n  "a.example",\n  { address = "b.example", minpoll = 9, maxpoll = 6 },\n]\n',
    4,
    'upstream.servers.2.minpoll',
    /above maxpoll/,
  );
  fails('[upstream]\nservers = [{ adress = "x" }]\n', 2, 'upstream.servers.1.adress', /unknown key/);
  fails('[ntp]\nrate_limit = { burst = 0 }\n', 2, 'ntp.rate_limit.burst', /1\.\.1024/);
  fails('[cluster]\nkey_id = 3\n', 2, 'cluster.key_id', /needs key_file/);
  fails('[node]\nid = "a b"\n', 2, 'node.id', /printable/);
  fails('[node]\nid = "a"\nid = "b"\n', 3, '', /not valid TOML/);
});

test('every config shipped in the repo is valid', () => {
  const files = [
    path.join(root, 'contrib', 'clocktower.toml'),
    ...readdirSync(path.join(root, 'examples'))
      .filter((f) => f.endsWith('.toml'))
      .map((f) => path.join(root, 'examples', f)),
  ];
  assert.ok(files.length >= 3);
  for (const f of files) parseConfig(readFileSync(f, 'utf8'), f);
});

test.run();
