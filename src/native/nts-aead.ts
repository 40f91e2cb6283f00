// AEAD_AES_SIV_CMAC_256 (RFC 5297; RFC 8915 §5.1 makes it NTS's mandatory
// AEAD) through the addon (native/nts_aead.cc): Node's crypto has no SIV.
// The output is SIV's: the 16-byte tag (the synthetic IV) then the
// ciphertext. NTS seals with two components, the associated data then the
// nonce (RFC 5116 §5.1.1 framing, as RFC 8915 §5.6 uses it): sivSeal and
// sivOpen; the vector forms take any list of components (RFC 5297's tests).
import type { Aead } from '../ntp/nts.js';
import { binding } from './binding.js';

export const SIV_KEY_BYTES = 32;

/** The AES under SIV in this process: "aes-ni", "armv8-ce" or "openssl" (forced with CLOCKTOWER_AES=openssl). */
export function aesBackend(): string {
  return binding.aesBackend;
}
export const SIV_TAG_BYTES = 16;
/** S2V takes at most 126 components of associated data (RFC 5297 §7). */
const MAX_PARTS = 126;

function bytes(what: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  return v;
}

function key(k: unknown): Uint8Array {
  const b = bytes('key', k);
  if (b.length !== SIV_KEY_BYTES) throw new RangeError(`an AES-SIV-CMAC-256 key is ${SIV_KEY_BYTES} bytes, not ${b.length}`);
  return b;
}

function parts(p: unknown): Uint8Array[] {
  if (!Array.isArray(p) || p.length > MAX_PARTS) throw new TypeError(`associated data must be an array of at most ${MAX_PARTS} Uint8Arrays`);
  return p.map((x, i) => bytes(`associated data component ${i}`, x));
}

/** Encrypts and authenticates under a vector of associated data: tag ‖ ciphertext. */
export function sivSealVector(k: Uint8Array, ad: Uint8Array[], plain: Uint8Array): Buffer {
  return binding.sivSeal(key(k), parts(ad), bytes('plaintext', plain));
}

/** The plaintext, or null when the tag does not verify (wrong key, associated data or text). */
export function sivOpenVector(k: Uint8Array, ad: Uint8Array[], sealed: Uint8Array): Buffer | null {
  const s = bytes('sealed text', sealed);
  if (s.length < SIV_TAG_BYTES) return null;
  return binding.sivOpen(key(k), parts(ad), s);
}

/** NTS's form: tag ‖ ciphertext, plain.length + 16 bytes, the nonce the last component. */
export function sivSeal(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plain: Uint8Array): Buffer {
  return sivSealVector(k, [bytes('associated data', ad), bytes('nonce', nonce)], plain);
}

export function sivOpen(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Buffer | null {
  return sivOpenVector(k, [bytes('associated data', ad), bytes('nonce', nonce)], sealed);
}

/** The pair as src/ntp/nts.ts takes it: what the daemon, the cookie jars and the NTS sources seal and open with. */
export const sivAead: Aead = { seal: sivSeal, open: sivOpen };
