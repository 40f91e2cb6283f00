// Loads the addon through node-gyp-build: build/Release when there is one (a
// local build), else the prebuild in prebuilds/<platform>-<arch>/. The shapes
// below are what native/*.cc export; callers go through the validated
// wrappers in this folder, never through `binding` directly.
import { createRequire } from 'node:module';

import { packageRoot } from '../util/package-root.js';
import { checkLayouts, type NativeLayouts } from './layouts.js';

export interface TimexState {
  state: number;
  status: number;
  offsetNs: number;
  freqScaled: number;
  maxErrorUs: number;
  estErrorUs: number;
  constant: number;
  precisionUs: number;
  toleranceScaled: number;
  tickUs: number;
  tai: number;
  timeNs: bigint;
}

export interface TimexWrite {
  modes: number;
  offset?: number;
  freq?: number;
  maxerror?: number;
  esterror?: number;
  status?: number;
  constant?: number;
  timeSec?: bigint;
  timeNsec?: number;
}


export interface NativeUdpOptions {
  family: 4 | 6;
  address: string;
  port: number;
  slots: number;
  maxDatagram: number;
  txSlots: number;
  reusePort: boolean;
  ipv6Only: boolean;
  /** SO_RCVBUF to ask for, bytes; 0: the system default. */
  rcvbuf: number;
}

export interface NativeUdpEndpoint {
  readonly rxSlab: ArrayBuffer;
  readonly txSlab: ArrayBuffer;
  readonly stride: number;
  readonly rxStampSource: number;
  readonly txStamps: boolean;
  send(data: Uint8Array, port: number, address: string, txStamp: boolean): number;
  sendBatch(data: Uint8Array, lengths: Uint32Array, ports: Uint16Array, addresses: string[]): number;
  localAddress(): { address: string; port: number; family: 4 | 6 };
  close(): void;
  setRef(ref: boolean): void;
  readonly counters: ArrayBuffer;
  /** SO_RCVBUF as the kernel set it (bytes, its own bookkeeping included). */
  readonly rcvbuf: number;
  /** counters: optional Uint8Array over shared memory (8-byte aligned, COUNTER_BYTES long) to count into. */
  enableResponder(counters?: Uint8Array): void;
  setServerState(s: NativeServerState): void;
  setAccess(allow: Uint8Array, deny: Uint8Array, denyKod: boolean): void;
  setRateLimit(r: { enabled: boolean; intervalS: number; burst: number; kodIntervalS: number }): void;
  setKeys(keys: Array<[number, number, Uint8Array]>): void;
  setResponderConfig(c: { requireAuth: boolean; interleavedEntries: number }): void;
  setNtsKeys(keys: Array<[number, Uint8Array]>): void;
  setBroadcast(on: boolean): void;
  setMembership(join: boolean, family: 4 | 6, group: string, ifAddr: string, ifIndex: number): void;
  setMulticastSend(family: 4 | 6, ifAddr: string, ifIndex: number, hops: number, loop: boolean): void;
}

export interface NativeServerState {
  leap: number;
  stratum: number;
  precision: number;
  refid: number;
  referenceNs: bigint | null;
  rootDelay: number;
  rootDispersionNs: number;
  refSysNs: bigint;
  refNodeNs: bigint;
  freqPpm: number;
  /** Changes on every step of the node clock: the interleave table is flushed. */
  stepEpoch: number;
}

export interface NativeBinding {
  clockRealtimeNs(): bigint;
  sivSeal(key: Uint8Array, parts: Uint8Array[], plain: Uint8Array): Buffer;
  sivOpen(key: Uint8Array, parts: Uint8Array[], sealed: Uint8Array): Buffer | null;
  aesBackend: string;
  clockMonotonicRawNs(): bigint;
  adjtimexRead(): TimexState;
  adjtimexWrite(w: TimexWrite): TimexState;
  adjtimexConstants: Record<string, number>;
  notifySocketSend(path: string, message: string): void;
  notifySocketPathMax: number;
  /** native/layout.cc (Linux builds). */
  layouts?: NativeLayouts;
  UdpEndpoint: new (
    opts: NativeUdpOptions,
    onRx: (count: number) => void,
    onTx: (count: number) => void,
  ) => NativeUdpEndpoint;
}

export { packageRoot };

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };

/**
 * The addon file in use (build/Release/clocktower.node or a prebuild).
 * CLOCKTOWER_ADDON names another build to load instead: the sanitizer build
 * of `npm run test:asan` (scripts/test-asan.sh).
 */
export const addonPath = process.env.CLOCKTOWER_ADDON || nodeGypBuild.resolve(packageRoot);
export const binding = require(addonPath) as NativeBinding;
checkLayouts(binding.layouts, addonPath);
