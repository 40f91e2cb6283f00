// NTP packet codec (RFC 5905 §7.3, extension fields RFC 7822, MAC RFC 5905
// §7.3 / RFC 8573). Pure: bytes in, a typed value or a typed rejection out;
// nothing is thrown past decodePacket. Fields stay in their wire form (raw
// 32.32 timestamps, 16.16 short values) so decode(encode(x)) equals x exactly.

export const HEADER_BYTES = 48;
/** RFC 7822 §7.5: a MAC in an NTPv4 packet is 20..24 bytes (key id + 16..20-byte digest). */
export const MIN_MAC_BYTES = 20;
export const MAX_V4_MAC_BYTES = 24;
/** Pre-v4 packets may carry a longer digest (chrony accepts up to 64 bytes). */
export const MAX_MAC_BYTES = 4 + 64;
/** RFC 7822 §3: an extension field is at least 16 bytes, and 28 when it is last with no MAC. */
export const MIN_EF_BYTES = 16;
export const MIN_LAST_EF_BYTES = 28;
/** Upper bound on a packet we will parse; longer is rejected, never truncated. */
export const MAX_PACKET_BYTES = 1024 + HEADER_BYTES + MAX_MAC_BYTES;

export const enum Mode {
  Reserved = 0,
  SymmetricActive = 1,
  SymmetricPassive = 2,
  Client = 3,
  Server = 4,
  Broadcast = 5,
  Control = 6,
  Private = 7,
}

/** Leap indicator (RFC 5905 §7.3): 3 means "clock unsynchronised". */
export const enum Leap {
  None = 0,
  Insert = 1,
  Delete = 2,
  Unsynchronised = 3,
}

export interface ExtensionField {
  type: number;
  /** Field value, padding included (length - 4 bytes). */
  body: Uint8Array;
}

export interface Mac {
  keyId: number;
  /** Empty for a crypto-NAK (a 4-byte MAC of key id 0, RFC 5905 §7.4). */
  digest: Uint8Array;
}

export interface NtpPacket {
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  /** log2 seconds, signed */
  poll: number;
  /** log2 seconds, signed */
  precision: number;
  /** NTP short format, raw 16.16 */
  rootDelay: number;
  /** NTP short format, raw 16.16 */
  rootDispersion: number;
  refId: number;
  referenceTs: bigint;
  originTs: bigint;
  receiveTs: bigint;
  transmitTs: bigint;
  extensions: ExtensionField[];
  mac: Mac | null;
}

export type RejectReason = 'too-short' | 'too-long' | 'bad-length' | 'bad-version' | 'bad-mode' | 'bad-ef-length' | 'bad-mac-length';

export type DecodeResult = { ok: true; packet: NtpPacket } | { ok: false; reason: RejectReason };

function reject(reason: RejectReason): DecodeResult {
  return { ok: false, reason };
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
function put64(b: Uint8Array, o: number, v: bigint): void {
  put32(b, o, Number(v >> 32n));
  put32(b, o + 4, Number(v & 0xffff_ffffn));
}

/** Decodes the 48-byte header (RFC 5905 §7.3 figure 8) into a packet with no EFs or MAC. */
function decodeHeader(b: Uint8Array): NtpPacket {
  const v = new DataView(b.buffer, b.byteOffset, HEADER_BYTES);
  return {
    leap: b[0]! >> 6,
    version: (b[0]! >> 3) & 7,
    mode: b[0]! & 7,
    stratum: b[1]!,
    poll: v.getInt8(2),
    precision: v.getInt8(3),
    rootDelay: v.getUint32(4),
    rootDispersion: v.getUint32(8),
    refId: v.getUint32(12),
    referenceTs: v.getBigUint64(16),
    originTs: v.getBigUint64(24),
    receiveTs: v.getBigUint64(32),
    transmitTs: v.getBigUint64(40),
    extensions: [],
    mac: null,
  };
}

/**
 * Decodes and validates one datagram. Rules: versions 1..4, mode 0
 * (reserved) rejected, length a multiple of 4; after the header, NTPv4
 * carries extension fields (RFC 7822 §3) and then an optional MAC of 20..24
 * bytes or a 4-byte crypto-NAK; earlier versions carry only a MAC.
 */
export function decodePacket(b: Uint8Array): DecodeResult {
  if (b.length < HEADER_BYTES) return reject('too-short');
  if (b.length > MAX_PACKET_BYTES) return reject('too-long');
  if (b.length % 4 !== 0) return reject('bad-length');
  const h = decodeHeader(b);
  if (h.version < 1 || h.version > 4) return reject('bad-version');
  if (h.mode === Mode.Reserved) return reject('bad-mode');

  const extensions: ExtensionField[] = [];
  let at = HEADER_BYTES;
  let mac: Mac | null = null;
  let rest = b.length - at;
  if (rest === 4) {
    if (u32(b, at) !== 0) return reject('bad-mac-length');
    h.mac = { keyId: 0, digest: new Uint8Array(0) };
    return { ok: true, packet: h };
  }
  if (h.version === 4) {
    while (rest > MAX_V4_MAC_BYTES) {
      const len = (b[at + 2]! << 8) | b[at + 3]!;
      if (len < MIN_EF_BYTES || len % 4 !== 0 || len > rest) return reject('bad-ef-length');
      if (len === rest && len < MIN_LAST_EF_BYTES) return reject('bad-ef-length');
      extensions.push({ type: (b[at]! << 8) | b[at + 1]!, body: b.slice(at + 4, at + len) });
      at += len;
      rest -= len;
    }
    if (rest > 0 && rest < MIN_MAC_BYTES) return reject('bad-mac-length');
  } else if (rest > 0 && (rest < MIN_MAC_BYTES || rest > MAX_MAC_BYTES)) {
    return reject('bad-mac-length');
  }
  if (rest > 0) mac = { keyId: u32(b, at), digest: b.slice(at + 4, at + rest) };
  h.extensions = extensions;
  h.mac = mac;
  return { ok: true, packet: h };
}

/** Length of the part of a packet a MAC covers: header plus extension fields. */
export function authenticatedLength(p: NtpPacket): number {
  return HEADER_BYTES + p.extensions.reduce((n, e) => n + 4 + e.body.length, 0);
}

/** Encodes a packet. Fields are masked to their widths; bodies must be padded by the caller. */
export function encodePacket(p: NtpPacket): Uint8Array {
  const macLen = p.mac ? 4 + p.mac.digest.length : 0;
  const out = new Uint8Array(authenticatedLength(p) + macLen);
  out[0] = ((p.leap & 3) << 6) | ((p.version & 7) << 3) | (p.mode & 7);
  out[1] = p.stratum & 0xff;
  out[2] = p.poll & 0xff;
  out[3] = p.precision & 0xff;
  put32(out, 4, p.rootDelay);
  put32(out, 8, p.rootDispersion);
  put32(out, 12, p.refId);
  put64(out, 16, p.referenceTs);
  put64(out, 24, p.originTs);
  put64(out, 32, p.receiveTs);
  put64(out, 40, p.transmitTs);
  let at = HEADER_BYTES;
  for (const e of p.extensions) {
    const len = 4 + e.body.length;
    out[at] = e.type >> 8;
    out[at + 1] = e.type & 0xff;
    out[at + 2] = len >> 8;
    out[at + 3] = len & 0xff;
    out.set(e.body, at + 4);
    at += len;
  }
  if (p.mac) {
    put32(out, at, p.mac.keyId);
    out.set(p.mac.digest, at + 4);
  }
  return out;
}

/** Kiss codes (RFC 5905 §7.4) that clients act on. */
export type KissCode =
  'RATE' | 'DENY' | 'RSTR' | 'CRYP' | 'NKEY' | 'AUTH' | 'AUTO' | 'BCST' | 'DROP' | 'INIT' | 'STEP' | 'ACST' | 'MCST' | 'RMOT' | 'NTSN' | string;

/** The kiss code of a Kiss-o'-Death packet (stratum 0, RFC 5905 §7.4), else null. */
export function kissCode(p: NtpPacket): KissCode | null {
  if (p.stratum !== 0) return null;
  return refIdText(p.refId);
}

/** A refid as four ASCII characters (trailing NULs dropped), as KoD codes and stratum-1 refids are. */
export function refIdText(refId: number): string {
  let s = '';
  for (let shift = 24; shift >= 0; shift -= 8) {
    const c = (refId >>> shift) & 0xff;
    if (c === 0) break;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return s;
}

/** Four ASCII characters -> refid (KoD codes, "LOCL", "INIT"). */
export function asciiRefId(text: string): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v = (v << 8) | (i < text.length ? text.charCodeAt(i) & 0xff : 0);
  return v >>> 0;
}

/** IPv4 dotted quad -> refid (RFC 5905 §7.3: a server's IPv4 address). */
export function ipv4RefId(address: string): number {
  const parts = address.split('.').map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Human form of a refid for a given stratum: text for stratum 0/1, dotted quad above. */
export function formatRefId(refId: number, stratum: number): string {
  if (stratum <= 1) return refIdText(refId);
  return [refId >>> 24, (refId >>> 16) & 0xff, (refId >>> 8) & 0xff, refId & 0xff].join('.');
}

export function emptyPacket(): NtpPacket {
  return {
    leap: Leap.None,
    version: 4,
    mode: Mode.Client,
    stratum: 0,
    poll: 0,
    precision: 0,
    rootDelay: 0,
    rootDispersion: 0,
    refId: 0,
    referenceTs: 0n,
    originTs: 0n,
    receiveTs: 0n,
    transmitTs: 0n,
    extensions: [],
    mac: null,
  };
}
