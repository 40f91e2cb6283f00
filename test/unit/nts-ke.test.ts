// NTS-KE records (RFC 8915 §4): a client's request through a server's parse
// and answer and back through the client's checks; the refusals a server
// owes (§4.1.3 codes) and a client's; messages cut at every byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  AEAD_AES_SIV_CMAC_256,
  buildKeError,
  buildKeRequest,
  buildKeResponse,
  decodeRecords,
  encodeRecords,
  exporterContext,
  KeErrorCode,
  KeProtocolError,
  KeRecordType,
  parseKeRequest,
  parseKeResponse,
  type KeRecord,
} from '../../src/ntp/nts-ke.js';

const eom: KeRecord = { critical: true, type: KeRecordType.EndOfMessage, body: new Uint8Array(0) };
const u16 = (...v: number[]) => Uint8Array.from(v.flatMap((x) => [x >> 8, x & 0xff]));

function refusal(f: () => unknown): KeProtocolError {
  try {
    f();
  } catch (e) {
    if (e instanceof KeProtocolError) return e;
    throw e;
  }
  throw new Error('no refusal');
}

test('request → server parse → response → client parse: NTPv4, AES-SIV-CMAC-256, the cookies, server and port', () => {
  const req = buildKeRequest({ server: 'time.lan', port: 1123 });
  // The wire form (§4): C|type, length, body; End of Message last.
  assert.equal(Array.from(req.subarray(0, 6)), [0x80, 0x01, 0x00, 0x02, 0x00, 0x00]);
  const got = decodeRecords(req);
  assert.ok(got.done);
  const parsed = parseKeRequest(got.records);
  assert.equal(parsed, { protocols: [0], aeads: [AEAD_AES_SIV_CMAC_256], server: 'time.lan', port: 1123 });
  const cookies = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5, 6, 7)];
  const res = parseKeResponse(decodeRecords(buildKeResponse(parsed, { cookies, server: '198.18.0.1', port: 123 })).records);
  assert.equal(res, { protocol: 0, aead: AEAD_AES_SIV_CMAC_256, cookies, server: '198.18.0.1', port: 123, warnings: [] });
});

test('a message arrives in pieces: not done until End of Message, whole records only', () => {
  const bytes = buildKeResponse({ protocols: [0], aeads: [15] }, { cookies: [new Uint8Array(100), new Uint8Array(100)] });
  for (let n = 0; n < bytes.length; n++) {
    const r = decodeRecords(bytes.subarray(0, n));
    assert.not.ok(r.done, `done after ${n} of ${bytes.length} bytes`);
    assert.ok(r.used <= n);
  }
  assert.ok(decodeRecords(bytes).done);
  assert.is(refusal(() => decodeRecords(Uint8Array.of(...bytes, 0))).code, KeErrorCode.BadRequest, 'a byte after End of Message');
  assert.is(refusal(() => decodeRecords(encodeRecords([{ ...eom, body: Uint8Array.of(1) }]))).code, KeErrorCode.BadRequest);
  assert.is(refusal(() => decodeRecords(new Uint8Array(20_000))).code, KeErrorCode.BadRequest, 'over the size bound');
});

test("a server's refusals carry RFC 8915 §4.1.3 codes", () => {
  const np = { critical: true, type: KeRecordType.NextProtocol, body: u16(0) };
  const aead = { critical: false, type: KeRecordType.AeadAlgorithm, body: u16(15) };
  assert.is(refusal(() => parseKeRequest([aead, eom])).code, KeErrorCode.BadRequest, 'no Next Protocol');
  assert.is(refusal(() => parseKeRequest([np, eom])).code, KeErrorCode.BadRequest, 'NTPv4 without an AEAD record');
  assert.is(refusal(() => parseKeRequest([np, np, aead, eom])).code, KeErrorCode.BadRequest, 'two Next Protocol records');
  assert.is(refusal(() => parseKeRequest([np, aead, { critical: true, type: 999, body: new Uint8Array(0) }, eom])).code, KeErrorCode.UnrecognizedCritical);
  assert.equal(parseKeRequest([np, aead, { critical: false, type: 999, body: Uint8Array.of(9) }, eom]).protocols, [0], 'unknown non-critical: ignored');
  assert.is(refusal(() => parseKeRequest([{ ...np, body: Uint8Array.of(0) }, aead, eom])).code, KeErrorCode.BadRequest, 'odd length');
  assert.is(
    refusal(() => parseKeRequest([np, aead, { critical: false, type: KeRecordType.NewCookie, body: Uint8Array.of(1) }, eom])).code,
    KeErrorCode.BadRequest,
  );
  assert.is(
    refusal(() => parseKeRequest([np, aead, { critical: false, type: KeRecordType.Server, body: Uint8Array.of(0x20) }, eom])).code,
    KeErrorCode.BadRequest,
    'a space',
  );
  assert.is(refusal(() => parseKeRequest([np, aead, { critical: false, type: KeRecordType.Port, body: u16(1, 2) }, eom])).code, KeErrorCode.BadRequest);
});

test('nothing in common: an empty protocol or AEAD list and no cookies, which a client refuses', () => {
  const noAead = decodeRecords(buildKeResponse({ protocols: [0], aeads: [30] }, { cookies: [Uint8Array.of(1)] })).records;
  assert.equal(
    noAead.map((r) => [r.type, r.body.length]),
    [
      [KeRecordType.NextProtocol, 2],
      [KeRecordType.AeadAlgorithm, 0],
      [KeRecordType.EndOfMessage, 0],
    ],
  );
  assert.match(refusal(() => parseKeResponse(noAead)).message, /no AEAD we offered/);
  const noProto = decodeRecords(buildKeResponse({ protocols: [7], aeads: [] }, { cookies: [Uint8Array.of(1)] })).records;
  assert.match(refusal(() => parseKeResponse(noProto)).message, /no protocol we offered/);
  const err = refusal(() => parseKeResponse(decodeRecords(buildKeError(KeErrorCode.InternalServerError)).records));
  assert.is(err.code, KeErrorCode.InternalServerError);
  const noCookies = decodeRecords(buildKeResponse({ protocols: [0], aeads: [15] }, { cookies: [] })).records;
  assert.match(refusal(() => parseKeResponse(noCookies)).message, /no cookies/);
});

test('exporter contexts (RFC 8915 §5.1): protocol, AEAD, direction', () => {
  assert.equal(Array.from(exporterContext('c2s')), [0, 0, 0, 15, 0]);
  assert.equal(Array.from(exporterContext('s2c')), [0, 0, 0, 15, 1]);
});

test.run();
