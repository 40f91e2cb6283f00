// NTS-protected NTP (RFC 8915 §5): the extension fields a client adds to a
// request (unique identifier, cookie, placeholders, authenticator) and a
// server's answer (the identifier echoed, new cookies sealed inside the
// authenticator), the server's cookies under rotating master keys (§6), and
// NTS NAKs. Pure: the AEAD (AES-SIV-CMAC-256, native in the daemon) and the
// random bytes are passed in, so the same code runs in tests and on sockets.
import { decodePacket, encodePacket, HEADER_BYTES, kissCode, type ExtensionField, type NtpPacket } from './packet.js';

/** Extension field types (RFC 8915 §5.7, IANA "NTP Extension Field Types"). */
export const EF_UNIQUE_ID = 0x0104;
export const EF_COOKIE = 0x0204;
export const EF_COOKIE_PLACEHOLDER = 0x0304;
export const EF_AUTHENTICATOR = 0x0404;
/** §5.3: at least 32 bytes of unique identifier. */
export const UNIQUE_ID_BYTES = 32;
export const NTS_NONCE_BYTES = 16;
/** A client keeps up to 8 cookies (§5.7: one used, up to 7 placeholders asked). */
export const MAX_COOKIES = 8;

/** AEAD_AES_SIV_CMAC_256 as the caller provides it (src/native/nts-aead.ts in the daemon). */
export interface Aead {
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plain: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

/** Unpredictable bytes (node:crypto's randomBytes in the daemon): identifiers, nonces, keys. */
export type RandomBytes = (n: number) => Uint8Array;

/** The keys NTS-KE exported for one client (§5.1), 32 bytes each. */
export interface NtsKeys {
  c2s: Uint8Array;
  s2c: Uint8Array;
}

const pad4 = (n: number) => (n + 3) & ~3;

function padded(b: Uint8Array, len = pad4(b.length)): Uint8Array {
  if (b.length === len) return b;
  const out = new Uint8Array(len);
  out.set(b);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function efBytes(fields: ExtensionField[]): Uint8Array {
  return concat(
    fields.map((f) => {
      const b = new Uint8Array(4 + f.body.length);
      b[0] = f.type >> 8;
      b[1] = f.type & 0xff;
      b[2] = b.length >> 8;
      b[3] = b.length & 0xff;
      b.set(f.body, 4);
      return b;
    }),
  );
}

/** Extension fields packed end to end (the authenticator's plaintext), or null when they do not parse. */
function parseFields(b: Uint8Array): ExtensionField[] | null {
  const out: ExtensionField[] = [];
  for (let at = 0; at < b.length;) {
    if (at + 4 > b.length) return null;
    const len = (b[at + 2]! << 8) | b[at + 3]!;
    if (len < 4 || len % 4 !== 0 || at + len > b.length) return null;
    out.push({ type: (b[at]! << 8) | b[at + 1]!, body: b.slice(at + 4, at + len) });
    at += len;
  }
  return out;
}

/**
 * The authenticator field (§5.6): nonce length, ciphertext length, the
 * nonce and the ciphertext each padded to 4 bytes. The AEAD covers `ad`,
 * everything in the packet before this field.
 */
function authenticator(aead: Aead, key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plain: Uint8Array): Uint8Array {
  const sealed = aead.seal(key, nonce, ad, plain);
  const head = Uint8Array.of(0, nonce.length, sealed.length >> 8, sealed.length & 0xff);
  return efBytes([{ type: EF_AUTHENTICATOR, body: concat([head, padded(nonce), padded(sealed)]) }]);
}

/** Where the authenticator starts in `bytes`, its nonce and its sealed text; null when absent or malformed. */
function findAuthenticator(bytes: Uint8Array, fields: ExtensionField[]): { at: number; nonce: Uint8Array; sealed: Uint8Array; last: boolean } | null {
  let at = HEADER_BYTES;
  for (const [i, f] of fields.entries()) {
    if (f.type === EF_AUTHENTICATOR) {
      if (f.body.length < 4) return null;
      const nonceLen = (f.body[0]! << 8) | f.body[1]!;
      const sealedLen = (f.body[2]! << 8) | f.body[3]!;
      // §5.6: a nonce of at least 16 bytes; the lengths must fit the field.
      if (nonceLen < NTS_NONCE_BYTES || 4 + pad4(nonceLen) + pad4(sealedLen) > f.body.length || sealedLen < 16) return null;
      const nonce = f.body.subarray(4, 4 + nonceLen);
      const sealed = f.body.subarray(4 + pad4(nonceLen), 4 + pad4(nonceLen) + sealedLen);
      return { at, nonce, sealed, last: i === fields.length - 1 };
    }
    at += 4 + f.body.length;
  }
  return null;
}

// ---- the client ---------------------------------------------------------

/** What a client must keep of a request to check its answer. */
export interface NtsPending {
  uniqueId: Uint8Array;
  s2c: Uint8Array;
}

/**
 * A request with NTS fields: the unique identifier, one cookie, a
 * placeholder for each further cookie wanted (as long as the cookie, so the
 * answer is no larger than the request, §5.7), and the authenticator.
 */
export function sealRequest(
  header: NtpPacket,
  o: { keys: NtsKeys; cookie: Uint8Array; placeholders: number; aead: Aead; random: RandomBytes },
): { bytes: Uint8Array; pending: NtsPending } {
  const uniqueId = o.random(UNIQUE_ID_BYTES);
  const fields: ExtensionField[] = [
    { type: EF_UNIQUE_ID, body: uniqueId },
    { type: EF_COOKIE, body: padded(o.cookie) },
  ];
  for (let i = 0; i < o.placeholders; i++) fields.push({ type: EF_COOKIE_PLACEHOLDER, body: new Uint8Array(pad4(o.cookie.length)) });
  const ad = encodePacket({ ...header, extensions: fields, mac: null });
  const auth = authenticator(o.aead, o.keys.c2s, o.random(NTS_NONCE_BYTES), ad, new Uint8Array(0));
  return { bytes: concat([ad, auth]), pending: { uniqueId, s2c: o.keys.s2c } };
}

export type NtsAnswer = { ok: true; packet: NtpPacket; cookies: Uint8Array[] } | { ok: false; reason: 'malformed' | 'not-ours' | 'nak' | 'unauthenticated' };

/**
 * Checks a server's answer to a request we sealed: the unique identifier
 * must be ours (§5.7), then either an NTS NAK (a kiss code NTSN: our cookie
 * was refused; not authenticated, so it only tells us to get new keys) or
 * an authenticator, last, that opens under the S2C key; the new cookies
 * come from inside it.
 */
export function openResponse(bytes: Uint8Array, pending: NtsPending, aead: Aead): NtsAnswer {
  const d = decodePacket(bytes);
  if (!d.ok || d.packet.mac) return { ok: false, reason: 'malformed' };
  const p = d.packet;
  const uid = p.extensions.find((f) => f.type === EF_UNIQUE_ID);
  if (!uid || !equalBytes(uid.body, pending.uniqueId)) return { ok: false, reason: 'not-ours' };
  if (kissCode(p) === 'NTSN') return { ok: false, reason: 'nak' };
  const a = findAuthenticator(bytes, p.extensions);
  // Fields after the authenticator are not covered by it: refused rather than half-trusted.
  if (!a || !a.last) return { ok: false, reason: 'unauthenticated' };
  const plain = aead.open(pending.s2c, a.nonce, bytes.subarray(0, a.at), a.sealed);
  const inner = plain ? parseFields(plain) : null;
  if (!inner) return { ok: false, reason: 'unauthenticated' };
  const cookies = inner.filter((f) => f.type === EF_COOKIE && f.body.length > 0).map((f) => f.body);
  return { ok: true, packet: { ...p, extensions: p.extensions.filter((f) => f.type !== EF_AUTHENTICATOR) }, cookies };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

// ---- the server's cookies ----------------------------------------------

/** A master key: cookies carry its id so the server knows which one sealed them. */
export interface MasterKey {
  id: number;
  key: Uint8Array;
}

/** Master keys honoured besides the current one (issue 24: a cookie outlives two rotations). */
export const OLD_MASTER_KEYS = 2;
const AEAD_ID_SIV = 15;
/** Cookie plaintext: AEAD id (2), reserved (2, keeps the cookie a multiple of 4), C2S (32), S2C (32). */
const COOKIE_PLAIN_BYTES = 68;
export const COOKIE_BYTES = 4 + NTS_NONCE_BYTES + 16 + COOKIE_PLAIN_BYTES;

/**
 * The server's cookie jar (§6's suggested scheme): a cookie is key id ‖
 * nonce ‖ AEAD(master key, nonce, key id, AEAD id ‖ C2S ‖ S2C). The server
 * keeps no state per client; rotating the master key retires cookies after
 * two more rotations.
 */
export class CookieJar {
  #keys: MasterKey[];

  constructor(
    keys: MasterKey[],
    readonly aead: Aead,
    readonly random: RandomBytes,
  ) {
    if (!keys.length) throw new RangeError('a cookie jar needs a master key');
    this.#keys = keys.slice(0, 1 + OLD_MASTER_KEYS);
  }

  /** Newest first, as kept (what the daemon saves in its state dir). */
  get keys(): readonly MasterKey[] {
    return this.#keys;
  }

  /** A new current key; the oldest beyond OLD_MASTER_KEYS is forgotten. */
  rotate(key: MasterKey): void {
    this.#keys = [key, ...this.#keys.filter((k) => k.id !== key.id)].slice(0, 1 + OLD_MASTER_KEYS);
  }

  make(keys: NtsKeys): Uint8Array {
    const mk = this.#keys[0]!;
    const id = u32Bytes(mk.id);
    const nonce = this.random(NTS_NONCE_BYTES);
    const plain = new Uint8Array(COOKIE_PLAIN_BYTES);
    plain[1] = AEAD_ID_SIV;
    plain.set(keys.c2s, 4);
    plain.set(keys.s2c, 36);
    return concat([id, nonce, this.aead.seal(mk.key, nonce, id, plain)]);
  }

  /** The keys a cookie carries, or null: an unknown (retired) master key, a forgery, another AEAD. */
  open(cookie: Uint8Array): NtsKeys | null {
    if (cookie.length !== COOKIE_BYTES) return null;
    const idBytes = cookie.subarray(0, 4);
    const id = ((idBytes[0]! << 24) | (idBytes[1]! << 16) | (idBytes[2]! << 8) | idBytes[3]!) >>> 0;
    const mk = this.#keys.find((k) => k.id === id);
    if (!mk) return null;
    const plain = this.aead.open(mk.key, cookie.subarray(4, 4 + NTS_NONCE_BYTES), idBytes, cookie.subarray(4 + NTS_NONCE_BYTES));
    if (!plain || plain.length !== COOKIE_PLAIN_BYTES || plain[0] !== 0 || plain[1] !== AEAD_ID_SIV) return null;
    return { c2s: plain.slice(4, 36), s2c: plain.slice(36, 68) };
  }
}

function u32Bytes(v: number): Uint8Array {
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

// ---- the server ---------------------------------------------------------

export type NtsRequest =
  | { kind: 'plain' }
  | { kind: 'nts'; keys: NtsKeys; uniqueId: Uint8Array; cookiesWanted: number }
  /** A cookie we cannot open: answer with a NAK (§5.7) echoing the unique identifier. */
  | { kind: 'nak'; uniqueId: Uint8Array }
  /** NTS fields that do not authenticate or do not make sense: drop, and count. */
  | { kind: 'drop'; why: string };

/** What a request asks for, NTS-wise (§5.7). A request without a cookie is a plain NTP request. */
export function checkRequest(bytes: Uint8Array, packet: NtpPacket, jar: CookieJar): NtsRequest {
  const fields = packet.extensions;
  const cookies = fields.filter((f) => f.type === EF_COOKIE);
  if (!cookies.length) return fields.some((f) => f.type === EF_AUTHENTICATOR) ? { kind: 'drop', why: 'an authenticator without a cookie' } : { kind: 'plain' };
  if (packet.mac) return { kind: 'drop', why: 'a MAC after NTS fields' };
  const uids = fields.filter((f) => f.type === EF_UNIQUE_ID);
  if (uids.length !== 1 || uids[0]!.body.length < UNIQUE_ID_BYTES) return { kind: 'drop', why: 'no unique identifier of 32 bytes or more' };
  if (cookies.length !== 1) return { kind: 'drop', why: 'more than one cookie' };
  const uniqueId = uids[0]!.body;
  const cookie = cookies[0]!.body;
  const keys = jar.open(cookie.length > COOKIE_BYTES ? cookie.subarray(0, COOKIE_BYTES) : cookie);
  if (!keys) return { kind: 'nak', uniqueId };
  const a = findAuthenticator(bytes, fields);
  if (!a || !a.last) return { kind: 'drop', why: 'no authenticator last' };
  const plain = jar.aead.open(keys.c2s, a.nonce, bytes.subarray(0, a.at), a.sealed);
  // §5.7: a request that does not authenticate gets a NAK too (as chrony answers), so the client renews its keys.
  if (!plain) return { kind: 'nak', uniqueId };
  // Placeholders ask for more cookies; each must be as long as the cookie sent (§5.5), so the answer stays within the request's size.
  const placeholders = fields.filter((f) => f.type === EF_COOKIE_PLACEHOLDER);
  if (placeholders.some((f) => f.body.length !== cookie.length)) return { kind: 'drop', why: 'a placeholder not the size of the cookie' };
  return { kind: 'nts', keys, uniqueId, cookiesWanted: Math.min(MAX_COOKIES, 1 + placeholders.length) };
}

/** The answer to an NTS request: the response header, the unique identifier, then the authenticator sealing fresh cookies under S2C. */
export function sealResponse(header: NtpPacket, req: Extract<NtsRequest, { kind: 'nts' }>, jar: CookieJar): Uint8Array {
  const ad = encodePacket({ ...header, extensions: [{ type: EF_UNIQUE_ID, body: req.uniqueId }], mac: null });
  const cookies: ExtensionField[] = Array.from({ length: req.cookiesWanted }, () => ({ type: EF_COOKIE, body: jar.make(req.keys) }));
  return concat([ad, authenticator(jar.aead, req.keys.s2c, jar.random(NTS_NONCE_BYTES), ad, efBytes(cookies))]);
}

/** An NTS NAK (§5.7): a kiss-o'-death NTSN, the unique identifier echoed, nothing else. */
export function nakResponse(header: NtpPacket, uniqueId: Uint8Array): Uint8Array {
  const ntsn = (0x4e << 24) | (0x54 << 16) | (0x53 << 8) | 0x4e;
  return encodePacket({ ...header, stratum: 0, refId: ntsn >>> 0, extensions: [{ type: EF_UNIQUE_ID, body: uniqueId }], mac: null });
}
