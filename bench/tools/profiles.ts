// The link profiles of the accuracy benchmarks (bench/accuracy.ts, with and
// without --system): what the relay (test/tools/relay.c) does to each leg.
import type { LinkSpec } from '../../test/tools/relay.js';

export interface Profile {
  name: string;
  /** null: no relay, straight to the server. */
  fwd: LinkSpec | null;
  rev: LinkSpec | null;
}

export const PROFILES: Profile[] = [
  { name: 'loopback (no relay)', fwd: null, rev: null },
  { name: 'clean relay', fwd: {}, rev: {} },
  { name: '100 µs ± 50 µs', fwd: { delayUs: 100, jitterUs: 50 }, rev: { delayUs: 100, jitterUs: 50 } },
  { name: '1 ms ± 0.5 ms, 5 % loss', fwd: { delayUs: 1000, jitterUs: 500, loss: 0.05 }, rev: { delayUs: 1000, jitterUs: 500, loss: 0.05 } },
  { name: 'asymmetric 200/50 µs', fwd: { delayUs: 200 }, rev: { delayUs: 50 } },
];
