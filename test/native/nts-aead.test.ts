// AEAD_AES_SIV_CMAC_256 through the addon: RFC 5297's own test vectors
// (Appendix A), forgeries refused, random cases against an independent
// implementation (Python's cryptography, where installed), and the CPU's AES
// instructions against OpenSSL's AES (CLOCKTOWER_AES=openssl) on the same cases.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { aesBackend, sivOpen, sivOpenVector, sivSeal, sivSealVector } from '../../src/native/nts-aead.js';
import { nodeArgv } from '../helpers/node.js';
import { testIf } from '../helpers/tools.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function hasPythonSiv(): boolean {
  try {
    execFileSync('python3', ['-c', 'from cryptography.hazmat.primitives.ciphers.aead import AESSIV'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('RFC 5297 A.1 (deterministic) and A.2 (nonce-based) vectors, sealed and opened', () => {
  const k1 = h('fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0 f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff');
  const ad1 = h('10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627');
  const p1 = h('11223344 55667788 99aabbcc ddee');
  const c1 = h('85632d07 c6e8f37f 950acd32 0a2ecc93 40c02b96 90c4dc04 daef7f6a fe5c');
  assert.is(sivSealVector(k1, [ad1], p1).toString('hex'), c1.toString('hex'));
  assert.is(sivOpenVector(k1, [ad1], c1)?.toString('hex'), p1.toString('hex'));

  const k2 = h('7f7e7d7c 7b7a7978 77767574 73727170 40414243 44454647 48494a4b 4c4d4e4f');
  const a = h('00112233 44556677 8899aabb ccddeeff deaddada deaddada ffeeddcc bbaa9988 77665544 33221100');
  const b = h('10203040 50607080 90a0');
  const nonce = h('09f91102 9d74e35b d84156c5 635688c0');
  const p2 = Buffer.from('this is some plaintext to encrypt using SIV-AES');
  const c2 = h(
    '7bdb6e3b 432667eb 06f4d14b ff2fbd0f cb900f2f ddbe4043 26601965 c889bf17 dba77ceb 094fa663 b7a3f748 ba8af829 ea64ad54 4a272e9c 485b62a3 fd5c0d',
  );
  assert.is(sivSealVector(k2, [a, b, nonce], p2).toString('hex'), c2.toString('hex'));
  assert.is(sivOpenVector(k2, [a, b, nonce], c2)?.toString(), p2.toString());
});

test('a changed bit anywhere, a swapped nonce and associated data, or another key: refused', () => {
  const k = randomBytes(32);
  const nonce = randomBytes(16);
  const ad = randomBytes(48);
  const plain = randomBytes(100);
  const sealed = sivSeal(k, nonce, ad, plain);
  assert.is(sealed.length, plain.length + 16);
  assert.ok(sivOpen(k, nonce, ad, sealed)?.equals(plain));
  for (let i = 0; i < sealed.length; i++) {
    const bad = Buffer.from(sealed);
    bad[i]! ^= 1 << i % 8;
    assert.is(sivOpen(k, nonce, ad, bad), null, `bit flipped in byte ${i}`);
  }
  assert.is(sivOpen(k, ad, nonce, sealed), null);
  assert.is(sivOpen(randomBytes(32), nonce, ad, sealed), null);
  assert.is(sivOpen(k, nonce, ad, sealed.subarray(0, 15)), null, 'shorter than a tag');
  // An empty plaintext still authenticates (NTS's authenticator over a request with no encrypted fields).
  const tagOnly = sivSeal(k, nonce, ad, new Uint8Array(0));
  assert.is(tagOnly.length, 16);
  assert.is(sivOpen(k, nonce, ad, tagOnly)?.length, 0);
  assert.is(sivOpen(k, nonce, randomBytes(48), tagOnly), null);
});

test('bad arguments are refused in JS with a clear error', () => {
  assert.throws(() => sivSeal(new Uint8Array(16), new Uint8Array(16), new Uint8Array(0), new Uint8Array(0)), /32 bytes, not 16/);
  assert.throws(() => sivSeal(new Uint8Array(32), 'nonce' as unknown as Uint8Array, new Uint8Array(0), new Uint8Array(0)), /nonce must be a Uint8Array/);
  assert.throws(() => sivSealVector(new Uint8Array(32), [new Uint8Array(1), 7 as unknown as Uint8Array], new Uint8Array(0)), /component 1/);
});

testIf(hasPythonSiv(), "Python's cryptography (AESSIV) is not installed")('random cases agree with an independent implementation (Python cryptography)', () => {
  const cases = Array.from({ length: 40 }, (_, i) => ({
    k: randomBytes(32),
    ad: randomBytes(i % 7 === 0 ? 0 : 1 + ((i * 37) % 200)),
    nonce: randomBytes(16),
    plain: randomBytes((i * 53) % 500),
  }));
  const py = `
import sys, json
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
for c in json.load(sys.stdin):
    h = bytes.fromhex
    print(AESSIV(h(c[0])).encrypt(h(c[3]), [h(c[1]), h(c[2])]).hex())
`;
  const input = JSON.stringify(cases.map((c) => [c.k, c.ad, c.nonce, c.plain].map((b) => b.toString('hex'))));
  const theirs = execFileSync('python3', ['-c', py], { input }).toString().trim().split('\n');
  cases.forEach((c, i) => assert.is(sivSeal(c.k, c.nonce, c.ad, c.plain).toString('hex'), theirs[i], `case ${i}`));
});

testIf(aesBackend() !== 'openssl', `this process already uses OpenSSL's AES (${aesBackend()})`)(
  "the CPU's AES instructions and OpenSSL's AES seal alike (random keys, texts and components, 0-100 bytes)",
  () => {
    const cases = Array.from({ length: 60 }, (_, i) => ({
      key: randomBytes(32).toString('hex'),
      parts: Array.from({ length: i % 4 }, () => randomBytes((i * 7) % 41).toString('hex')),
      plain: randomBytes((i * 13) % 101).toString('hex'),
    }));
    const seal = (c: (typeof cases)[number]) =>
      sivSealVector(
        Buffer.from(c.key, 'hex'),
        c.parts.map((p) => Buffer.from(p, 'hex')),
        Buffer.from(c.plain, 'hex'),
      ).toString('hex');
    const [cmd, ...argv] = nodeArgv('test/native/fixtures/siv-cases.ts', [JSON.stringify(cases)]);
    const child = JSON.parse(
      execFileSync(cmd!, argv, { encoding: 'utf8', env: { ...process.env, CLOCKTOWER_AES: 'openssl' } }),
    ) as { backend: string; out: string[] };
    assert.is(child.backend, 'openssl');
    assert.equal(cases.map(seal), child.out, `${aesBackend()} against openssl`);
  },
);

test.run();
