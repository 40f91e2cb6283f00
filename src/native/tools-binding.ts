// Loads the tools addon (native/tools_addon.cc): the load generator behind
// `clocktower bench` and the NTP conversions as JS functions, for the tests
// and benches. The daemon never loads it. It sits beside the production
// addon: build/Release/tools/ in a local build, prebuilds/<platform>-<arch>/tools/
// in a package; CLOCKTOWER_TOOLS_ADDON names another (the sanitizer build).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { packageRoot } from '../util/package-root.js';

export interface LoadResult {
  sent: number;
  valid: number;
  invalid: number;
  kod: number;
  lost: number;
  /** Replies in interleaved mode (a request in interleaved form answered with an earlier reply's TX stamp). */
  interleaved: number;
  elapsedNs: number;
  latencyNs: { p50: number; p99: number; p999: number };
}

export interface ToolsBinding {
  unixNsToNtp64(unixNs: bigint): bigint;
  ntp64ToUnixNs(ntp: bigint, pivotNs: bigint): bigint;
  durationNsToNtp64(ns: bigint): bigint;
  ntp64ToDurationNs(v: bigint): bigint;
  nsToNtpShort(ns: bigint): number;
  ntpShortToNs(v: number): bigint;
  unixNsToNtp64Batch(input: BigInt64Array, output: BigUint64Array): void;
  ntp64ToUnixNsBatch(input: BigUint64Array, output: BigInt64Array, pivotNs: bigint): void;
  runLoad(o: {
    address: string;
    port: number;
    family: 4 | 6;
    sockets: number;
    window: number;
    ratePps: number;
    durationMs: number;
    timeoutMs: number;
    batch: number;
    interleaved: boolean;
    /** NTS: every request carries this cookie and is sealed under c2s; replies must open under s2c. */
    nts?: { cookie: Uint8Array; c2s: Uint8Array; s2c: Uint8Array };
  }): Promise<LoadResult>;
}

const FILE = 'clocktower_tools.node';

/** Where the tools addon is: the override, a local build, or the prebuild for this platform. */
export function toolsAddonPath(): string {
  const override = process.env['CLOCKTOWER_TOOLS_ADDON'];
  if (override) return override;
  const candidates = [path.join(packageRoot, 'build', 'Release', 'tools', FILE), path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'tools', FILE)];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`the tools addon is not built (looked for ${candidates.join(', ')}): run npm run build:native`);
  return found;
}

let loaded: ToolsBinding | null = null;

/** The tools addon, loaded on first use. */
export function tools(): ToolsBinding {
  loaded ??= createRequire(import.meta.url)(toolsAddonPath()) as ToolsBinding;
  return loaded;
}
