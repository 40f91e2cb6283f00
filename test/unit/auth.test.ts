// Symmetric keys: AES-CMAC against RFC 4493's vectors, digests as chrony
// computes them (HASH(key || packet), cut to 20 bytes in NTPv4), key files in
// chrony's format with errors naming file and line.
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { computeDigest, parseKeyFile, signPacket, verifyBytes, type KeyType } from '../../src/ntp/auth.js';
import { emptyPacket, encodePacket } from '../../src/ntp/packet.js';
import { ConfigError } from '../../src/util/errors.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('AES-128-CMAC matches RFC 4493 §4 examples 1-4', () => {
  const key = { id: 1, type: 'AES128' as KeyType, secret: hex('2b7e1516 28aed2a6 abf71588 09cf4f3c') };
  const m = hex(
    '6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51 30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710',
  );
  const cases: Array<[number, string]> = [
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ];
  for (const [len, mac] of cases) assert.is(toHex(computeDigest(key, m.subarray(0, len), 16)), mac, `length ${len}`);
});

test('MD5 and SHA digests are HASH(key || data), cut to the limit', () => {
  const data = encodePacket(emptyPacket());
  const k = { id: 9, type: 'SHA256' as KeyType, secret: new TextEncoder().encode('pw') };
  const full = createHash('sha256').update('pw').update(data).digest();
  assert.is(toHex(computeDigest(k, data, 20)), full.subarray(0, 20).toString('hex'));
  const signed = signPacket(data, k);
  assert.is(signed.length, 48 + 4 + 20, 'NTPv4 MAC cut to 20 bytes (RFC 7822 §7.5)');
  const v3 = Uint8Array.from(data);
  v3[0] = (v3[0]! & 0xc7) | (3 << 3);
  assert.is(signPacket(v3, k).length, 48 + 4 + 32, 'NTPv3 carries the whole digest');
});

test('sign and verify round trip for every key type; a flipped bit fails', () => {
  const keys = parseKeyFile(
    [
      '1 MD5 abc',
      '2 SHA1 HEX:00112233445566778899aabbccddeeff00112233',
      '3 SHA256 s3',
      '4 SHA384 s4',
      '5 SHA512 s5',
      '6 AES128 HEX:000102030405060708090a0b0c0d0e0f',
      '7 AES256 HEX:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
      '8 plain-md5',
    ].join('\n'),
    'keys',
  );
  assert.is(keys.get(8)!.type, 'MD5', 'type defaults to MD5');
  for (const key of keys.values()) {
    const signed = signPacket(encodePacket(emptyPacket()), key);
    assert.equal(verifyBytes(signed, keys), { status: 'ok', keyId: key.id }, key.type);
    const bad = Uint8Array.from(signed);
    bad[10]! ^= 0x40;
    assert.equal(verifyBytes(bad, keys), { status: 'bad-mac', keyId: key.id }, key.type);
  }
  assert.equal(verifyBytes(encodePacket(emptyPacket()), keys), { status: 'none' });
});

test('key file errors name the file, the line and the key', () => {
  const cases: Array<[string, RegExp]> = [
    ['1 SHA1 HEX:abc', /keys:1: key 1: HEX: key must be an even number/],
    ['# c\n\n2 BLAKE3 x', /keys:3: key 2: unknown key type BLAKE3/],
    ['0 MD5 x', /keys:1: key 0: key id must be 1\.\.4294967295/],
    ['x MD5 y', /keys:1: key x: key id must be a decimal integer/],
    ['3 AES128 HEX:0011', /keys:1: key 3: AES128 key must be 16 bytes, got 2/],
    ['4 MD5 a\n4 MD5 b', /keys:2: key 4: duplicate key id/],
    ['5 MD5 a b c', /keys:1: key 5: expected "ID \[TYPE\] KEY"/],
  ];
  for (const [text, re] of cases) {
    const err = (() => {
      try {
        parseKeyFile(text, 'keys');
      } catch (e) {
        return e;
      }
    })();
    assert.instance(err, ConfigError, text);
    assert.match((err as Error).message, re);
  }
});

test.run();
