import { setTimeout as sleep } from 'node:timers/promises';

import { controlRequest } from '../daemon/control.js';
import { formatOffsetMs, statusLine, type Status } from '../daemon/status.js';
import { parse, UsageError } from './args.js';
import type { Command } from './main.js';
import { socketFrom } from './status.js';

const usage = `usage: clocktower wait-sync [--timeout S] [--max-offset MS] [--interval S]
                            [--socket PATH | --config FILE]

Waits until the local node is synchronised (as chronyc waitsync): it follows
a source (the elected server or an upstream) or is the elected server
itself, and, with --max-offset, the last offset it measured to its source
is within MS milliseconds. For boot ordering: contrib/clocktower-wait-sync.service
holds time-sync.target until then.

options:
  --timeout S      give up after S seconds (default 0: no limit)
  --max-offset MS  also require |offset| <= MS ms (default: any offset)
  --interval S     how often to ask the node (default 1)
  --socket PATH, --config FILE   which node (as for clocktower status)

Exit status: 0 when synchronised, 1 on timeout (the last state is printed),
2 on a bad config or usage.`;

function numberOption(name: string, v: string | undefined, def: number, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}: ${JSON.stringify(v)}`);
  return n;
}

/** Why `s` does not count as synchronised yet, or null when it does. */
export function notSyncedWhy(s: Status, maxOffsetNs: number | null): string | null {
  if (!s.synced) return statusLine(s);
  const off = s.source?.last_offset_ns;
  if (maxOffsetNs !== null && off != null && Math.abs(Number(off)) > maxOffsetNs) {
    return `${statusLine(s)}: |offset| over ${formatOffsetMs(maxOffsetNs).slice(1)}`;
  }
  return null;
}

export const command: Command = {
  summary: 'wait until the local node is synchronised (for boot ordering)',
  usage,
  async run(args) {
    const p = parse(args, {
      timeout: { type: 'string' },
      'max-offset': { type: 'string' },
      interval: { type: 'string' },
      socket: { type: 'string' },
      config: { type: 'string' },
    });
    if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}`);
    const timeoutMs = numberOption('timeout', p.str('timeout'), 0, 0) * 1000;
    const maxOffset = p.str('max-offset');
    const maxOffsetNs = maxOffset === undefined ? null : numberOption('max-offset', maxOffset, 0, 0) * 1e6;
    const intervalMs = Math.max(10, numberOption('interval', p.str('interval'), 1, 0.01) * 1000);
    const socket = socketFrom(p);
    if (socket === null) return 2;
    const started = Date.now();
    let why = 'no answer yet';
    for (;;) {
      try {
        const s = (await controlRequest(socket, { cmd: 'status' })) as Status;
        const not = notSyncedWhy(s, maxOffsetNs);
        if (not === null) {
          console.log(`synchronised: ${statusLine(s)}`);
          return 0;
        }
        why = not;
      } catch (e) {
        why = `no node answering on ${socket}: ${(e as Error).message}`;
      }
      const left = timeoutMs === 0 ? intervalMs : started + timeoutMs - Date.now();
      if (left <= 0) {
        console.error(`clocktower wait-sync: not synchronised after ${(timeoutMs / 1000).toFixed(0)} s: ${why}`);
        return 1;
      }
      await sleep(Math.min(intervalMs, left));
    }
  },
};
