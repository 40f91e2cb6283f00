import { readFileSync } from 'node:fs';

import { bench } from '../tools/bench.js';
import { intOption, parse, secondsOption, UsageError } from './args.js';
import type { Command } from './main.js';

const usage = `usage: clocktower bench HOST[:PORT] [options]

Loads an NTP server with client requests from native code (sendmmsg /
recvmmsg, kernel RX stamps) and reports valid replies per second, loss, KoDs
and latency percentiles. Only loopback targets unless --allow-remote.

options:
  --duration S     how long to send (default 5)
  --window N       requests in flight, closed loop (default 64)
  --rate PPS       open loop at this rate instead
  --sockets N      source ports (default 4)
  --timeout S      a request unanswered this long is lost (default 0.2)
  --allow-remote   permit a target outside 127.0.0.0/8 and ::1
  --interleaved    ask in interleaved form (RFC 9769) once replies come: the server
                   stamps every reply and answers with earlier replies' TX stamps
  --nts            NTS (RFC 8915): HOST[:PORT] is an NTS-KE server (port 4460 by
                   default); the load goes, sealed, to the NTP server it names, and
                   only replies that authenticate count
  --ca FILE        with --nts: trust this CA (PEM) instead of the system's
  --json           one JSON object`;

function readFileOption(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UsageError(`--${name} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export const command: Command = {
  summary: "measure an NTP server's throughput and latency (loopback by default)",
  usage,
  async run(args) {
    try {
      const { values, positionals, str } = parse(args, {
        duration: { type: 'string' },
        window: { type: 'string' },
        rate: { type: 'string' },
        sockets: { type: 'string' },
        timeout: { type: 'string' },
        'allow-remote': { type: 'boolean' },
        interleaved: { type: 'boolean' },
        nts: { type: 'boolean' },
        ca: { type: 'string' },
        json: { type: 'boolean' },
      });
      if (str('ca') !== undefined && !values.nts) throw new UsageError('--ca goes with --nts');
      const ca = str('ca');
      if (positionals.length !== 1) throw new UsageError('name one server');
      const r = await bench(positionals[0]!, {
        durationMs: secondsOption('duration', str('duration'), 5000),
        window: intOption('window', str('window'), 64, 1, 100_000),
        ratePps: intOption('rate', str('rate'), 0, 1, 10_000_000),
        sockets: intOption('sockets', str('sockets'), 4, 1, 256),
        timeoutMs: secondsOption('timeout', str('timeout'), 200),
        allowRemote: values['allow-remote'] === true,
        interleaved: values.interleaved === true,
        ...(values.nts ? { nts: { ca: ca === undefined ? undefined : readFileOption('ca', ca) } } : {}),
      });
      if (values.json) console.log(JSON.stringify(r));
      else {
        const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
        console.log(`${r.target}: ${r.replies_per_s.toFixed(0)} valid replies/s over ${r.duration_s.toFixed(2)} s`);
        console.log(`  sent ${r.sent}  valid ${r.valid}  kod ${r.kod}  invalid ${r.invalid}  lost ${r.lost} (${(r.loss * 100).toFixed(3)} %)`);
        if (r.interleaved !== null)
          console.log(`  interleaved ${r.interleaved} (${((r.interleaved / Math.max(1, r.valid)) * 100).toFixed(1)} % of valid replies)`);
        console.log(`  latency p50 ${us(r.latency_ns.p50)}  p99 ${us(r.latency_ns.p99)}  p99.9 ${us(r.latency_ns.p999)}`);
      }
      return r.valid > 0 ? 0 : 1;
    } catch (e) {
      console.error(`clocktower bench: ${(e as Error).message}`);
      return e instanceof UsageError ? 2 : 1;
    }
  },
};
