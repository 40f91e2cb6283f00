// AES-256-GCM from node:crypto standing in for AES-SIV where a tier loads no
// addon (unit, fuzz): those tests exercise how NTS fields are built and
// checked; the SIV itself is checked in test/native/nts-aead.test.ts.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import type { Aead } from '../../src/ntp/nts.js';

export const gcmAead: Aead = {
  seal(key, nonce, ad, plain) {
    const c = createCipheriv('aes-256-gcm', key, nonce).setAAD(ad);
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([c.getAuthTag(), ct]);
  },
  open(key, nonce, ad, sealed) {
    if (sealed.length < 16) return null;
    const d = createDecipheriv('aes-256-gcm', key, nonce).setAAD(ad);
    d.setAuthTag(sealed.subarray(0, 16));
    try {
      return Buffer.concat([d.update(sealed.subarray(16)), d.final()]);
    } catch {
      return null;
    }
  },
};

export const randomUint8 = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
