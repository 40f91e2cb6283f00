// Symmetric-key authentication of NTP packets (RFC 5905 §7.3 MAC, RFC 8573
// AES-CMAC), interoperable with chrony and ntpd: the digest is
// HASH(key || packet) for MD5/SHA families and AES-CMAC(key, packet) for AES;
// NTPv4 MACs are cut to 20 bytes (RFC 7822 §7.5) so extension fields parse
// deterministically. Keys come from a file in chrony's format, so one file
// serves clocktower and chrony alike.
import { createCipheriv, createHash, timingSafeEqual } from 'node:crypto';

import { ConfigError } from '../util/errors.js';
import { authenticatedLength, decodePacket, MAX_V4_MAC_BYTES, type NtpPacket } from './packet.js';

export type KeyType = 'MD5' | 'SHA1' | 'SHA256' | 'SHA384' | 'SHA512' | 'AES128' | 'AES256';

export interface NtpKey {
  id: number;
  type: KeyType;
  secret: Uint8Array;
}

const HASH_BYTES: Record<KeyType, number> = {
  MD5: 16,
  SHA1: 20,
  SHA256: 32,
  SHA384: 48,
  SHA512: 64,
  AES128: 16,
  AES256: 16,
};
const AES_KEY_BYTES: Partial<Record<KeyType, number>> = { AES128: 16, AES256: 32 };

export type KeyRing = ReadonlyMap<number, NtpKey>;

/**
 * Parses a key file in chrony's format: `ID [TYPE] KEY` per line, TYPE one of
 * MD5 (default), SHA1, SHA256, SHA384, SHA512, AES128, AES256; KEY is ASCII
 * text or `HEX:` followed by hex digits; `#` starts a comment. Errors name the
 * file and line.
 */
export function parseKeyFile(text: string, file: string): Map<number, NtpKey> {
  const keys = new Map<number, NtpKey>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const words = line.split(/\s+/);
    const fail = (problem: string): never => {
      throw new ConfigError(file, i + 1, `key ${words[0] ?? ''}`.trim(), problem);
    };
    if (words.length < 2 || words.length > 3) fail('expected "ID [TYPE] KEY"');
    if (!/^\d+$/.test(words[0]!)) fail('key id must be a decimal integer');
    const id = Number(words[0]);
    if (id < 1 || id > 0xffff_ffff) fail('key id must be 1..4294967295');
    const type = (words.length === 3 ? words[1]!.toUpperCase() : 'MD5') as KeyType;
    if (!(type in HASH_BYTES)) fail(`unknown key type ${words[1]} (MD5, SHA1, SHA256, SHA384, SHA512, AES128, AES256)`);
    const spec = words[words.length - 1]!;
    let secret: Uint8Array;
    if (/^HEX:/i.test(spec)) {
      const hex = spec.slice(4);
      if (!/^([0-9a-f]{2})+$/i.test(hex)) fail('HEX: key must be an even number of hex digits');
      secret = Uint8Array.from(Buffer.from(hex, 'hex'));
    } else {
      secret = new TextEncoder().encode(spec);
    }
    const want = AES_KEY_BYTES[type];
    if (want !== undefined && secret.length !== want) fail(`${type} key must be ${want} bytes, got ${secret.length}`);
    if (secret.length === 0) fail('empty key');
    if (keys.has(id)) fail('duplicate key id');
    keys.set(id, { id, type, secret });
  });
  return keys;
}

/** AES-CMAC (RFC 4493) over `data`. */
function aesCmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  const alg = key.length === 16 ? 'aes-128-cbc' : 'aes-256-cbc';
  const zero = new Uint8Array(16);
  const enc = (block: Uint8Array): Uint8Array => {
    const c = createCipheriv(alg, key, zero);
    c.setAutoPadding(false);
    return new Uint8Array(c.update(block));
  };
  const dbl = (b: Uint8Array): Uint8Array => {
    const out = new Uint8Array(16);
    for (let i = 0; i < 16; i++) out[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 0xff;
    if (b[0]! & 0x80) out[15]! ^= 0x87;
    return out;
  };
  const k1 = dbl(enc(zero));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(data.length / 16));
  const complete = data.length > 0 && data.length % 16 === 0;
  const msg = new Uint8Array(n * 16);
  msg.set(data);
  if (!complete) msg[data.length] = 0x80;
  const sub = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) msg[(n - 1) * 16 + i]! ^= sub[i]!;
  const c = createCipheriv(alg, key, zero);
  c.setAutoPadding(false);
  const all = new Uint8Array(c.update(msg));
  return all.subarray(all.length - 16);
}

/** The digest a MAC carries for `data` under `key`, cut to `maxBytes`. */
export function computeDigest(key: NtpKey, data: Uint8Array, maxBytes: number): Uint8Array {
  let full: Uint8Array;
  if (key.type === 'AES128' || key.type === 'AES256') full = aesCmac(key.secret, data);
  else full = new Uint8Array(createHash(key.type.toLowerCase()).update(key.secret).update(data).digest());
  return full.subarray(0, Math.min(full.length, maxBytes));
}

/** Digest bytes a MAC of this key carries in a packet of `version`. */
export function digestBytes(key: NtpKey, version: number): number {
  return version === 4 ? Math.min(HASH_BYTES[key.type], MAX_V4_MAC_BYTES - 4) : HASH_BYTES[key.type];
}

/** Appends a MAC under `key` to an unauthenticated packet (header + extension fields). */
export function signPacket(unsigned: Uint8Array, key: NtpKey): Uint8Array {
  const version = (unsigned[0]! >> 3) & 7;
  const digest = computeDigest(key, unsigned, digestBytes(key, version));
  const out = new Uint8Array(unsigned.length + 4 + digest.length);
  out.set(unsigned);
  new DataView(out.buffer).setUint32(unsigned.length, key.id);
  out.set(digest, unsigned.length + 4);
  return out;
}

export type AuthResult =
  | { status: 'none' }
  | { status: 'crypto-nak' }
  | { status: 'ok'; keyId: number }
  | { status: 'unknown-key'; keyId: number }
  | { status: 'bad-mac'; keyId: number };

/** Checks the MAC of a decoded packet against the raw bytes it came from. */
export function verifyPacket(bytes: Uint8Array, packet: NtpPacket, keys: KeyRing): AuthResult {
  const mac = packet.mac;
  if (!mac) return { status: 'none' };
  if (mac.keyId === 0 && mac.digest.length === 0) return { status: 'crypto-nak' };
  const key = keys.get(mac.keyId);
  if (!key) return { status: 'unknown-key', keyId: mac.keyId };
  const expected = computeDigest(key, bytes.subarray(0, authenticatedLength(packet)), HASH_BYTES[key.type]);
  // Accept the full digest or chrony's cut to 20 bytes, never shorter than 16.
  const got = mac.digest;
  const ok =
    got.length >= 16 &&
    got.length <= expected.length &&
    (got.length === expected.length || got.length === MAX_V4_MAC_BYTES - 4) &&
    timingSafeEqual(got, expected.subarray(0, got.length));
  return ok ? { status: 'ok', keyId: mac.keyId } : { status: 'bad-mac', keyId: mac.keyId };
}

/** Convenience for tests and tools: decode + verify in one step. */
export function verifyBytes(bytes: Uint8Array, keys: KeyRing): AuthResult | { status: 'malformed' } {
  const d = decodePacket(bytes);
  if (!d.ok) return { status: 'malformed' };
  return verifyPacket(bytes, d.packet, keys);
}
