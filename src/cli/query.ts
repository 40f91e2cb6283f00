import { webcrypto } from 'node:crypto';

import { query, type QueryResult } from '../tools/query.js';
import { readKeyFile } from '../daemon/keyfile.js';
import { cryptoRng } from '../util/rng.js';
import { intOption, parse, secondsOption, UsageError } from './args.js';
import type { Command } from './main.js';

const usage = `usage: clocktower query HOST[:PORT]... [options]

Asks each NTP server for the time and prints what it says (msntp's display
mode). Exit status 0 when at least one server answered validly, 1 otherwise.

options:
  --count N        requests per server (default 4); the lowest-delay answer is shown
  --timeout S      seconds to wait for each answer (default 1)
  --interval S     seconds between requests to one server (default 0.2)
  --key ID         authenticate with this key (needs --keyfile)
  --keyfile FILE   key file in chrony's format (ID TYPE KEY)
  --ntp-version N  NTP version to send, 1..4 (default 4)
  --interleaved    ask in interleaved form from the second request on (RFC 9769; chrony's
                   xleave): answers that carry the server's real transmit time are marked
  --json           print a JSON array, one object per server`;

const LEAP = ['none', 'insert', 'delete', 'unsynchronised'];

function sec(ns: number | bigint, sign = false): string {
  const v = Number(ns) / 1e9;
  return `${sign && v >= 0 ? '+' : ''}${v.toFixed(9)} s`;
}

function toJson(r: QueryResult): object {
  const b = r.best;
  return {
    server: r.server,
    address: r.address,
    ok: r.ok,
    error: r.error,
    offset_ns: b ? b.offsetNs.toString() : null,
    delay_ns: b ? Math.round(b.delayNs) : null,
    dispersion_ns: b ? Math.round(b.dispersionNs) : null,
    stratum: b?.stratum ?? null,
    refid: b?.refIdText ?? null,
    leap: b ? LEAP[b.leap] : null,
    root_delay_ns: b ? Math.round(b.rootDelayNs) : null,
    root_dispersion_ns: b ? Math.round(b.rootDispersionNs) : null,
    precision_log2: b?.precisionLog2 ?? null,
    poll_log2: b?.pollLog2 ?? null,
    samples: r.samples.map((s) => ({ offset_ns: s.offsetNs.toString(), delay_ns: Math.round(s.delayNs), interleaved: s.interleaved })),
    interleaved: r.samples.filter((s) => s.interleaved).length,
    rejects: r.rejects,
  };
}

function toText(r: QueryResult): string {
  const b = r.best;
  if (!r.ok || !b) return `${r.server}: no valid answer: ${r.error}`;
  return [
    `${r.server} (${r.address})  stratum ${b.stratum}  refid ${b.refIdText}  leap ${LEAP[b.leap]}`,
    `  offset ${sec(b.offsetNs, true)}  delay ${sec(b.delayNs)}  dispersion ${sec(b.dispersionNs)}`,
    `  root delay ${sec(b.rootDelayNs)}  root dispersion ${sec(b.rootDispersionNs)}  precision 2^${b.precisionLog2} s  poll 2^${b.pollLog2} s`,
    `  ${r.samples.length} answer(s)${r.samples.some((s) => s.interleaved) ? `, ${r.samples.filter((s) => s.interleaved).length} interleaved` : ''}${Object.keys(r.rejects).length ? `, rejected: ${JSON.stringify(r.rejects)}` : ''}`,
  ].join('\n');
}

export const command: Command = {
  summary: 'ask NTP servers for the time and show what they say',
  usage,
  async run(args) {
    try {
      const { values, positionals, str } = parse(args, {
        count: { type: 'string' },
        timeout: { type: 'string' },
        interval: { type: 'string' },
        key: { type: 'string' },
        keyfile: { type: 'string' },
        'ntp-version': { type: 'string' },
        json: { type: 'boolean' },
        interleaved: { type: 'boolean' },
      });
      if (positionals.length === 0) throw new UsageError('name at least one server');
      const keyId = values.key === undefined ? undefined : intOption('key', str('key'), 0, 1, 0xffff_ffff);
      if (keyId !== undefined && !str('keyfile')) throw new UsageError('--key needs --keyfile');
      const keyfile = str('keyfile');
      const keys = keyfile ? readKeyFile(keyfile) : undefined;
      const results = await query(positionals, {
        count: intOption('count', str('count'), 4, 1, 100),
        timeoutMs: secondsOption('timeout', str('timeout'), 1000),
        intervalMs: secondsOption('interval', str('interval'), 200),
        version: intOption('ntp-version', str('ntp-version'), 4, 1, 4),
        ...(keyId !== undefined ? { keyId } : {}),
        ...(keys ? { keys } : {}),
        interleaved: values.interleaved === true,
        rng: cryptoRng((b) => webcrypto.getRandomValues(b)),
      });
      if (values.json) console.log(JSON.stringify(results.map(toJson), null, 2));
      else console.log(results.map(toText).join('\n'));
      return results.some((r) => r.ok) ? 0 : 1;
    } catch (e) {
      console.error(`clocktower query: ${(e as Error).message}`);
      return 2;
    }
  },
};
