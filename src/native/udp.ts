// A validated wrapper over the addon's UDP endpoint. Received datagrams land
// in a slab of flat records (RECORD, in layouts.ts, is checked against native/record.h at load); a
// batch is handed to `onBatch` as a view that reads fields on demand, so the
// receive path allocates nothing per packet unless the caller asks for it.
import net from 'node:net';

import { binding, type NativeUdpEndpoint } from './binding.js';
import { RECORD, StampSource, TX_RECORD } from './layouts.js';

export { RECORD, StampSource };
const FLAG_TRUNCATED = RECORD.flagTruncated;

export interface UdpOptions {
  /** Address to bind: an IPv4 or IPv6 literal ("0.0.0.0", "::1", "fe80::1%eth0"). */
  address: string;
  /** Port to bind; 0 picks a free one. */
  port?: number;
  /** Records per receive batch (recvmmsg vlen); default 64. */
  slots?: number;
  /** Largest datagram kept whole; longer ones arrive flagged truncated. Default 2048. */
  maxDatagram?: number;
  /** SO_REUSEPORT, for one socket per worker thread. Default false. */
  reusePort?: boolean;
  /** IPv6 sockets only: refuse IPv4-mapped traffic. Default true. */
  ipv6Only?: boolean;
  /** Receive queue to ask for (SO_RCVBUF), bytes, up to 64 MiB; the kernel doubles it and caps it at net.core.rmem_max. Default: the system's. */
  receiveBufferBytes?: number;
}

export interface Peer {
  address: string;
  port: number;
  family: 4 | 6;
}

/** A datagram copied out of the slab; safe to keep. */
export interface Datagram {
  data: Uint8Array;
  peer: Peer;
  rxNs: bigint;
  source: StampSource;
  truncated: boolean;
  /** Arrival interface; reported on wildcard binds only (0 elsewhere: the bound address names it). */
  ifIndex: number;
}

/**
 * The records of one receive batch. Valid only during the onBatch call: the
 * next batch overwrites the slab.
 */
export class RecordBatch {
  count = 0;
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  readonly #stride: number;

  constructor(slab: ArrayBuffer, stride: number) {
    this.#view = new DataView(slab);
    this.#bytes = new Uint8Array(slab);
    this.#stride = stride;
  }

  #at(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`record ${i} not in batch of ${this.count}`);
    return i * this.#stride;
  }

  /** The datagram bytes, as a view into the slab (no copy). */
  data(i: number): Uint8Array {
    const o = this.#at(i);
    const len = Math.min(this.#view.getUint32(o + RECORD.len, true), this.#stride - RECORD.header);
    return this.#bytes.subarray(o + RECORD.header, o + RECORD.header + len);
  }
  rxNs(i: number): bigint {
    return this.#view.getBigInt64(this.#at(i) + RECORD.rxNs, true);
  }
  source(i: number): StampSource {
    return this.#view.getUint8(this.#at(i) + RECORD.source);
  }
  truncated(i: number): boolean {
    return (this.#view.getUint32(this.#at(i) + RECORD.flags, true) & FLAG_TRUNCATED) !== 0;
  }
  ifIndex(i: number): number {
    return this.#view.getUint32(this.#at(i) + RECORD.ifIndex, true);
  }
  peerPort(i: number): number {
    return this.#view.getUint16(this.#at(i) + RECORD.peerPort, true);
  }
  peer(i: number): Peer {
    const o = this.#at(i);
    const family = this.#view.getUint8(o + RECORD.family) === 6 ? 6 : 4;
    const raw = this.#bytes.subarray(o + RECORD.peerAddr, o + RECORD.peerAddr + (family === 4 ? 4 : 16));
    let address = formatAddress(raw);
    const scope = this.#view.getUint32(o + RECORD.scopeId, true);
    if (family === 6 && scope !== 0) address += `%${scope}`;
    return { address, port: this.#view.getUint16(o + RECORD.peerPort, true), family };
  }
  /** A copy of the whole batch that outlives it, for posting to another thread. */
  copyAll(): { slab: ArrayBuffer; stride: number; count: number } {
    return { slab: this.#bytes.slice(0, this.count * this.#stride).buffer, stride: this.#stride, count: this.count };
  }
  /** A copy of record i that outlives the batch. */
  copy(i: number): Datagram {
    return {
      data: Uint8Array.from(this.data(i)),
      peer: this.peer(i),
      rxNs: this.rxNs(i),
      source: this.source(i),
      truncated: this.truncated(i),
      ifIndex: this.ifIndex(i),
    };
  }
}

/** 4 or 16 raw bytes -> text. */
export function formatAddress(raw: Uint8Array): string {
  if (raw.length === 4) return `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((raw[i]! << 8) | raw[i + 1]!).toString(16));
  // Compress the longest run of zero groups (RFC 5952 §4.2).
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export interface UdpHandlers {
  /** A receive batch; read it before returning. */
  onBatch?: (batch: RecordBatch) => void;
  /** A kernel TX stamp for the send that returned `id`. */
  onTxStamp?: (id: number, txNs: bigint) => void;
}

function checkPort(port: unknown): number {
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new RangeError(`port must be an integer 0..65535: ${String(port)}`);
  }
  return port as number;
}

function addressFamily(address: string): 4 | 6 {
  const bare = address.includes('%') ? address.slice(0, address.indexOf('%')) : address;
  const f = net.isIP(bare);
  if (f === 0) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  return f as 4 | 6;
}

function checkCount(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer ${min}..${max}: ${v}`);
  return v;
}

export interface MulticastInterface {
  /** The interface's IPv4 address (IPv4 only). */
  address?: string;
  /** The interface's index (if_nametoindex); 0: the kernel's choice. */
  index?: number;
}

/** 224.0.0.0/4 or ff00::/8. */
export function isMulticast(address: string): boolean {
  if (net.isIPv4(address)) return Number(address.split('.')[0]) >> 4 === 14;
  return net.isIPv6(address.split('%')[0]!) && /^ff[0-9a-f]{2}:/i.test(address);
}

function checkInterface(family: 4 | 6, iface: MulticastInterface): { address: string; index: number } {
  const index = checkCount('interface index', iface.index ?? 0, 0, 2 ** 31 - 1);
  const address = iface.address ?? '';
  if (address !== '' && (family !== 4 || !net.isIPv4(address))) {
    throw new TypeError(`an interface is named by address only for IPv4 multicast, as an IPv4 address: ${JSON.stringify(address)}`);
  }
  return { address, index };
}

/** Largest UDP payload over IPv4. */
const MAX_PAYLOAD = 65507;

export class UdpEndpoint {
  readonly family: 4 | 6;
  /** The clock that stamps received packets here. */
  readonly rxStampSource: StampSource;
  /** Whether sends can ask for kernel TX stamps. */
  readonly txStamps: boolean;
  /** The receive queue the kernel granted (SO_RCVBUF, bytes, its bookkeeping included). */
  readonly receiveBufferBytes: number;
  protected readonly native: NativeUdpEndpoint;
  readonly #ipv6Only: boolean;
  #closed = false;

  constructor(opts: UdpOptions, handlers: UdpHandlers = {}) {
    this.family = addressFamily(opts.address);
    this.#ipv6Only = opts.ipv6Only ?? true;
    const slots = checkCount('slots', opts.slots ?? 64, 1, 1024);
    const maxDatagram = checkCount('maxDatagram', opts.maxDatagram ?? 2048, 48, MAX_PAYLOAD);
    let batch: RecordBatch | undefined;
    const onBatch = handlers.onBatch;
    const onTxStamp = handlers.onTxStamp;
    let txView: DataView | undefined;
    this.native = new binding.UdpEndpoint(
      {
        family: this.family,
        address: opts.address,
        port: checkPort(opts.port ?? 0),
        slots,
        maxDatagram,
        txSlots: 64,
        reusePort: opts.reusePort ?? false,
        ipv6Only: this.#ipv6Only,
        rcvbuf: checkCount('receiveBufferBytes', opts.receiveBufferBytes ?? 0, 0, 64 << 20),
      },
      (count) => {
        if (!onBatch) return;
        batch ??= new RecordBatch(this.native.rxSlab, this.native.stride);
        batch.count = count;
        onBatch(batch);
        batch.count = 0;
      },
      (count) => {
        if (!onTxStamp) return;
        txView ??= new DataView(this.native.txSlab);
        for (let i = 0; i < count; i++) {
          onTxStamp(txView.getUint32(i * TX_RECORD.bytes + TX_RECORD.id, true), txView.getBigInt64(i * TX_RECORD.bytes + TX_RECORD.ns, true));
        }
      },
    );
    this.rxStampSource = this.native.rxStampSource;
    this.txStamps = this.native.txStamps;
    this.receiveBufferBytes = this.native.rcvbuf;
  }

  get closed(): boolean {
    return this.#closed;
  }

  address(): Peer {
    return this.native.localAddress();
  }

  #checkPeer(port: number, address: string): void {
    checkPort(port);
    const f = addressFamily(address);
    if (f !== this.family && (this.family === 4 || this.#ipv6Only)) {
      throw new TypeError(`cannot send to IPv${f} address ${address} from an IPv${this.family} endpoint`);
    }
  }

  /**
   * Sends one datagram. With `txStamp`, returns the id its kernel TX stamp
   * will carry in onTxStamp (when the kernel supports it: see `txStamps`);
   * otherwise -1.
   */
  send(data: Uint8Array, port: number, address: string, opts: { txStamp?: boolean } = {}): number {
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array');
    checkCount('datagram length', data.length, 0, MAX_PAYLOAD);
    this.#checkPeer(port, address);
    return this.native.send(data, port, address, opts.txStamp === true);
  }

  /** Sends many datagrams to one peer with sendmmsg; returns how many the kernel took. */
  sendMany(datagrams: readonly Uint8Array[], port: number, address: string): number {
    this.#checkPeer(port, address);
    const lengths = new Uint32Array(datagrams.length);
    let total = 0;
    datagrams.forEach((d, i) => {
      if (!(d instanceof Uint8Array)) throw new TypeError(`datagram ${i} must be a Uint8Array`);
      lengths[i] = checkCount('datagram length', d.length, 0, MAX_PAYLOAD);
      total += d.length;
    });
    const packed = new Uint8Array(total);
    let off = 0;
    for (const d of datagrams) {
      packed.set(d, off);
      off += d.length;
    }
    return this.native.sendBatch(packed, lengths, Uint16Array.of(port), [address]);
  }

  /** SO_BROADCAST: lets sends reach broadcast addresses (an NTP broadcast server). */
  setBroadcast(on: boolean): void {
    this.native.setBroadcast(on === true);
  }

  /**
   * Joins a multicast group, on the interface that has `iface.address`
   * (IPv4) or index `iface.index` (0 or none: the kernel's choice). An IPv4
   * group on an IPv6 endpoint needs ipv6Only: false.
   */
  joinGroup(group: string, iface: MulticastInterface = {}): void {
    this.#membership(true, group, iface);
  }

  leaveGroup(group: string, iface: MulticastInterface = {}): void {
    this.#membership(false, group, iface);
  }

  #membership(join: boolean, group: string, iface: MulticastInterface): void {
    const family = this.#groupFamily(group);
    const { address, index } = checkInterface(family, iface);
    this.native.setMembership(join, family, group, address, index);
  }

  /**
   * Multicast sends of `family` (default the endpoint's): the interface they
   * leave by, their hop limit (default 1: this link only) and whether this
   * host's own members hear them (default true).
   */
  setMulticastSend(opts: MulticastInterface & { family?: 4 | 6; hops?: number; loop?: boolean } = {}): void {
    const family = opts.family ?? this.family;
    if (family !== 4 && family !== 6) throw new RangeError(`family must be 4 or 6: ${String(family)}`);
    if (family === 4 && this.family === 6 && this.#ipv6Only) throw new TypeError('IPv4 multicast on an IPv6-only endpoint');
    if (family === 6 && this.family === 4) throw new TypeError('IPv6 multicast on an IPv4 endpoint');
    const { address, index } = checkInterface(family, opts);
    this.native.setMulticastSend(family, address, index, checkCount('hops', opts.hops ?? 1, 0, 255), opts.loop ?? true);
  }

  #groupFamily(group: string): 4 | 6 {
    const family = addressFamily(group);
    if (!isMulticast(group)) throw new TypeError(`not a multicast group: ${JSON.stringify(group)}`);
    if (family === 4 && this.family === 6 && this.#ipv6Only) throw new TypeError(`cannot join IPv4 group ${group} on an IPv6-only endpoint`);
    if (family === 6 && this.family === 4) throw new TypeError(`cannot join IPv6 group ${group} on an IPv4 endpoint`);
    return family;
  }

  /** Whether an open endpoint keeps the process alive (default true). */
  setRef(ref: boolean): this {
    this.native.setRef(ref);
    return this;
  }

  /** Closes the socket; safe with I/O pending, inside a callback, or twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.native.close();
  }
}
