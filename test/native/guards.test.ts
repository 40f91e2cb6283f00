// The addon's entry points refuse what would make them read or write past a
// caller's memory, even when called around the validating wrappers: batch
// lengths against the data, empty port and address lists, a short or
// misaligned shared counter block, a short conversion output, CIDR prefixes
// past the address, and a receive slab that JS detached.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { type NativeUdpEndpoint } from '../../src/native/binding.js';
import { tools } from '../../src/native/tools-binding.js';
import { NtpServer } from '../../src/native/server.js';
import { UdpEndpoint } from '../../src/native/udp.js';
import { waitFor } from '../helpers/wait.js';

const nativeOf = (ep: UdpEndpoint) => (ep as unknown as { native: NativeUdpEndpoint }).native;
const einval = (e: unknown) => (e as { code?: string }).code === 'EINVAL';

test('sendBatch: lengths past the data, or no port or address, are EINVAL', () => {
  const ep = new UdpEndpoint({ address: '127.0.0.1', port: 0 });
  try {
    const n = nativeOf(ep);
    const port = ep.address().port;
    assert.throws(() => n.sendBatch(new Uint8Array(8), Uint32Array.of(8, 8), Uint16Array.of(port), ['127.0.0.1']), einval);
    assert.throws(() => n.sendBatch(new Uint8Array(8), Uint32Array.of(4), new Uint16Array(0), ['127.0.0.1']), einval);
    assert.throws(() => n.sendBatch(new Uint8Array(8), Uint32Array.of(4), Uint16Array.of(port), []), einval);
    assert.throws(() => n.sendBatch(new Uint8Array(8), Uint32Array.of(4, 4, 0), Uint16Array.of(port, port), ['127.0.0.1']), einval);
    assert.is(n.sendBatch(new Uint8Array(8), Uint32Array.of(4, 4), Uint16Array.of(port), ['127.0.0.1']), 2);
  } finally {
    ep.close();
  }
});

test('a shared counter block too short or misaligned is EINVAL', () => {
  for (const block of [new Uint8Array(new SharedArrayBuffer(8)), new Uint8Array(new SharedArrayBuffer(1024), 1, 512)]) {
    const ep = new UdpEndpoint({ address: '127.0.0.1', port: 0 });
    try {
      assert.throws(() => nativeOf(ep).enableResponder(block), einval);
    } finally {
      ep.close();
    }
  }
});

test('batch conversions with a short output are refused', () => {
  assert.throws(() => tools().unixNsToNtp64Batch(new BigInt64Array(4), new BigUint64Array(2)), RangeError);
  assert.throws(() => tools().ntp64ToUnixNsBatch(new BigUint64Array(4), new BigInt64Array(3), 0n), RangeError);
});

test('a CIDR prefix past 128 is taken as 128 (that one address), not read past it', async () => {
  const server = new NtpServer({ address: '127.0.0.1', port: 0 });
  const client = new UdpEndpoint({ address: '127.0.0.1', port: 0 });
  try {
    const cidr = new Uint8Array(17);
    cidr.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
    cidr[16] = 255;
    nativeOf(server).setAccess(new Uint8Array(0), cidr, false);
    const request = new Uint8Array(48);
    request[0] = (4 << 3) | 3; // NTPv4 client
    client.send(request, server.address().port, '127.0.0.1');
    // Matched as 127.0.0.1/128 and denied (dropped); the ASan build of this tier checks the reads.
    await waitFor('the request to be denied', () => server.counters().dropDenied === 1n, 3000);
  } finally {
    client.close();
    server.close();
  }
});

test('a detached receive slab closes the endpoint instead of being written', async () => {
  const ep = new UdpEndpoint({ address: '127.0.0.1', port: 0 });
  const n = nativeOf(ep);
  const port = ep.address().port;
  structuredClone(n.rxSlab, { transfer: [n.rxSlab] });
  const other = new UdpEndpoint({ address: '127.0.0.1', port: 0 });
  try {
    other.send(Uint8Array.of(1, 2, 3), port, '127.0.0.1');
    await waitFor('the endpoint to close', () => {
      try {
        n.localAddress();
        return false;
      } catch (e) {
        return (e as { code?: string }).code === 'EBADF';
      }
    }, 3000);
  } finally {
    other.close();
    ep.close();
  }
});

test.run();
