// The server's transmit-stamp error, basic against interleaved (RFC 9769), on
// loopback: for our native server and chronyd -x. Each pair of requests is in
// interleaved form: the first names no reply of the server's (a bogus origin),
// so it gets a basic reply whose transmit field the server read before sending,
// and the server keeps that reply's kernel TX stamp; the second names that
// reply, and its interleaved answer carries the kernel stamp. Per pair:
//   software − kernel: how much earlier the basic transmit field was read than
//     the reply left (the error a basic client takes into its offset);
//   T4 − T3: our kernel RX stamp minus each T3 (the path after the stamp).
// The server runs on CPU 1, this client on CPU 0 (taskset).
//   sh scripts/no-sys-time.sh node --import tsx bench/interleaved.ts [--pairs N]
// Prints per server the median and p99, then exactly one last line:
//   interleaved tx-error ours p50=X.X us chrony p50=Y.Y us (software - kernel)
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { decodePacket, emptyPacket, encodePacket, type NtpPacket } from '../src/ntp/packet.js';
import { ntp64ToUnixNs } from '../src/ntp/time.js';
import { UdpEndpoint } from '../src/native/udp.js';
import { startChronyd, startOurs } from './tools/pinned-servers.js';

const args = process.argv.slice(2);
const PAIRS = args.includes('--pairs') ? Number(args[args.indexOf('--pairs') + 1]) : 300;
const tmp = mkdtempSync(path.join(tmpdir(), 'ct-xleave-'));
execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

interface Reply {
  pkt: NtpPacket;
  rxNs: bigint;
}

/** The pairs against one server on 127.0.0.1:port: software − kernel T3, and T4 − T3 both ways, ns. */
async function measure(port: number): Promise<{ errNs: number[]; pathBasicNs: number[]; pathKernelNs: number[]; pairs: number }> {
  let pending: ((r: Reply) => void) | null = null;
  const ep = new UdpEndpoint(
    { address: '127.0.0.1' },
    {
      onBatch: (b) => {
        for (let i = 0; i < b.count; i++) {
          const d = decodePacket(b.data(i));
          if (d.ok && pending) pending({ pkt: d.packet, rxNs: b.rxNs(i) });
        }
      },
    },
  );
  const ask = (p: NtpPacket): Promise<Reply | null> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending = null;
        resolve(null);
      }, 500);
      pending = (r) => {
        clearTimeout(timer);
        pending = null;
        resolve(r);
      };
      ep.send(encodePacket(p), port, '127.0.0.1');
    });
  const errNs: number[] = [];
  const pathBasicNs: number[] = [];
  const pathKernelNs: number[] = [];
  let n = 0;
  try {
    for (let i = 0; i < PAIRS + 20; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const bogus = (BigInt(Date.now()) << 20n) | 1n;
      const a = await ask({ ...emptyPacket(), version: 4, mode: 3, originTs: bogus, receiveTs: 0x1234n, transmitTs: (BigInt(i) << 8n) | 2n });
      if (!a) continue;
      const b = await ask({
        ...emptyPacket(),
        version: 4,
        mode: 3,
        originTs: a.pkt.receiveTs,
        receiveTs: 0x5678n + BigInt(i),
        transmitTs: (BigInt(i) << 8n) | 4n,
      });
      if (!b || b.pkt.originTs !== 0x5678n + BigInt(i)) continue; // answered basic: no stamp kept
      if (i < 20) continue; // warm-up
      const t3Basic = ntp64ToUnixNs(a.pkt.transmitTs, a.rxNs)!;
      const t3Kernel = ntp64ToUnixNs(b.pkt.transmitTs, a.rxNs)!;
      errNs.push(Number(t3Kernel - t3Basic));
      pathBasicNs.push(Number(a.rxNs - t3Basic));
      pathKernelNs.push(Number(a.rxNs - t3Kernel));
      n++;
    }
  } finally {
    ep.close();
  }
  return { errNs, pathBasicNs, pathKernelNs, pairs: n };
}

const us = (ns: number) => (ns / 1000).toFixed(1);
/** Signed quantiles (a stamp read late would show as negative). */
function quantiles(xs: number[]): { p50: number; p99: number } {
  const a = [...xs].sort((x, y) => x - y);
  const q = (f: number) => a[Math.min(a.length - 1, Math.floor(f * a.length))]!;
  return { p50: q(0.5), p99: q(0.99) };
}

async function main(): Promise<void> {
  const results: Record<string, number> = {};
  const servers: { name: string; start: (port: number) => Promise<ChildProcess> }[] = [
    { name: 'ours', start: startOurs },
    { name: 'chrony', start: (p) => startChronyd(p, tmp) },
  ];
  console.log(`${PAIRS} pairs per server, 20 ms apart; server on CPU 1, client on CPU 0`);
  console.log('server  pairs  software-kernel p50/p99 us   T4-T3 basic p50/p99 us   T4-T3 kernel p50/p99 us');
  let port = 12700;
  for (const s of servers) {
    const child = await s.start(++port);
    try {
      const m = await measure(port);
      if (m.pairs === 0) {
        console.log(`${s.name.padEnd(7)} no interleaved answers`);
        continue;
      }
      const e = quantiles(m.errNs),
        pb = quantiles(m.pathBasicNs),
        pk = quantiles(m.pathKernelNs);
      results[s.name] = e.p50;
      console.log(
        `${s.name.padEnd(7)} ${String(m.pairs).padStart(5)}  ${`${us(e.p50)} / ${us(e.p99)}`.padStart(24)}  ${`${us(pb.p50)} / ${us(pb.p99)}`.padStart(23)}  ${`${us(pk.p50)} / ${us(pk.p99)}`.padStart(24)}`,
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
  const f = (k: string) => (results[k] !== undefined ? us(results[k]!) : 'n/a');
  console.log(`interleaved tx-error ours p50=${f('ours')} us chrony p50=${f('chrony')} us (software - kernel)`);
}

try {
  await main();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
