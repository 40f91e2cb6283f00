// NTS Key Establishment records (RFC 8915 §4): the TLV messages a client and
// a server exchange over TLS before any NTS-protected NTP. Pure: bytes in,
// records or a typed refusal out; the TLS shells (src/daemon/nts-ke-*.ts)
// only move bytes.
// Record: critical bit + 15-bit type, 16-bit body length, body (§4).

/** Record types (RFC 8915 §4.1, IANA "Network Time Security Key Establishment Record Types"). */
export const enum KeRecordType {
  EndOfMessage = 0,
  NextProtocol = 1,
  Error = 2,
  Warning = 3,
  AeadAlgorithm = 4,
  NewCookie = 5,
  Server = 6,
  Port = 7,
}

/** Error codes (§4.1.3). */
export const enum KeErrorCode {
  UnrecognizedCritical = 0,
  BadRequest = 1,
  InternalServerError = 2,
}

/** NTPv4, the only next protocol (§4.1.2). */
export const NTS_PROTOCOL_NTPV4 = 0;
/** AEAD_AES_SIV_CMAC_256 (RFC 5297), the AEAD every implementation must support (§5.1). */
export const AEAD_AES_SIV_CMAC_256 = 15;
/** The TLS exporter label and ALPN for NTS-KE (§4.2, §5.1). */
export const NTS_KE_EXPORTER_LABEL = 'EXPORTER-network-time-security';
export const NTS_KE_ALPN = 'ntske/1';
export const NTS_KE_DEFAULT_PORT = 4460;
/** A KE message bound: 8 cookies of a few hundred bytes fit many times over; a larger one is refused unread. */
export const MAX_KE_MESSAGE_BYTES = 16 * 1024;

export interface KeRecord {
  critical: boolean;
  type: number;
  body: Uint8Array;
}

export class KeProtocolError extends Error {
  constructor(
    message: string,
    /** What a server answers with (§4.1.3). */
    readonly code: KeErrorCode,
  ) {
    super(message);
    this.name = 'KeProtocolError';
  }
}

export function encodeRecords(records: KeRecord[]): Uint8Array {
  const size = records.reduce((n, r) => n + 4 + r.body.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let at = 0;
  for (const r of records) {
    if (r.type < 0 || r.type > 0x7fff || r.body.length > 0xffff) throw new RangeError(`record type ${r.type} with ${r.body.length} bytes does not fit`);
    v.setUint16(at, (r.critical ? 0x8000 : 0) | r.type);
    v.setUint16(at + 2, r.body.length);
    out.set(r.body, at + 4);
    at += 4 + r.body.length;
  }
  return out;
}

/**
 * Records from the bytes received so far. `done`: an End of Message record
 * was read (§4.1.1: the last record; bytes after it are refused). Not done:
 * more bytes are needed, and `used` says how many formed whole records.
 */
export function decodeRecords(bytes: Uint8Array): { records: KeRecord[]; done: boolean; used: number } {
  if (bytes.length > MAX_KE_MESSAGE_BYTES) throw new KeProtocolError(`a key establishment message over ${MAX_KE_MESSAGE_BYTES} bytes`, KeErrorCode.BadRequest);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: KeRecord[] = [];
  let at = 0;
  while (at + 4 <= bytes.length) {
    const head = v.getUint16(at);
    const len = v.getUint16(at + 2);
    if (at + 4 + len > bytes.length) break;
    const r = { critical: (head & 0x8000) !== 0, type: head & 0x7fff, body: bytes.slice(at + 4, at + 4 + len) };
    at += 4 + len;
    records.push(r);
    if (r.type === KeRecordType.EndOfMessage) {
      if (len !== 0) throw new KeProtocolError('an End of Message record with a body (RFC 8915 §4.1.1)', KeErrorCode.BadRequest);
      if (at !== bytes.length) throw new KeProtocolError('bytes after End of Message (RFC 8915 §4.1.1)', KeErrorCode.BadRequest);
      return { records, done: true, used: at };
    }
  }
  return { records, done: false, used: at };
}

function u16List(r: KeRecord, what: string): number[] {
  if (r.body.length % 2 !== 0) throw new KeProtocolError(`${what}: a body of ${r.body.length} bytes, not 16-bit values`, KeErrorCode.BadRequest);
  const v = new DataView(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  return Array.from({ length: r.body.length / 2 }, (_, i) => v.getUint16(i * 2));
}

function u16Body(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setUint16(i * 2, x));
  return b;
}

/** What a client asks for (§4.1.2, §4.1.5, §4.1.7, §4.1.8). */
export interface KeRequest {
  protocols: number[];
  aeads: number[];
  /** A server or port the client would like (a server may ignore them). */
  server?: string;
  port?: number;
}

/** What a server grants: the cookies, and where to send NTP if not to itself on 123. */
export interface KeResponse {
  protocol: number;
  aead: number;
  cookies: Uint8Array[];
  server?: string;
  port?: number;
  warnings: number[];
}

const td = new TextDecoder('utf-8', { fatal: true });
const te = new TextEncoder();

function asciiHost(r: KeRecord): string {
  let s: string;
  try {
    s = td.decode(r.body);
  } catch {
    throw new KeProtocolError('a server name that is not text (RFC 8915 §4.1.7)', KeErrorCode.BadRequest);
  }
  // §4.1.7: ASCII, an IPv4 or IPv6 address or a fully qualified domain name.
  if (!s.length || !/^[\x21-\x7e]+$/.test(s))
    throw new KeProtocolError(`a server name that is not an ASCII host: ${JSON.stringify(s.slice(0, 64))}`, KeErrorCode.BadRequest);
  return s;
}

function port(r: KeRecord): number {
  const [p, ...rest] = u16List(r, 'port');
  if (p === undefined || rest.length) throw new KeProtocolError('a port record that is not one 16-bit value (RFC 8915 §4.1.8)', KeErrorCode.BadRequest);
  return p;
}

interface Negotiation {
  protocols: number[] | null;
  aeads: number[] | null;
  server?: string;
  port?: number;
}

/**
 * The records both sides read alike (§4.1): at most one Next Protocol and
 * one AEAD list, server and port, unknown critical records refused. `own`
 * takes the rest; false leaves a record to the unknown-record rule.
 */
function readNegotiation(records: KeRecord[], own: (r: KeRecord) => boolean): Negotiation {
  const n: Negotiation = { protocols: null, aeads: null };
  for (const r of records) {
    switch (r.type) {
      case KeRecordType.EndOfMessage:
        break;
      case KeRecordType.NextProtocol:
        if (n.protocols) throw new KeProtocolError('two Next Protocol records (RFC 8915 §4.1.2)', KeErrorCode.BadRequest);
        n.protocols = u16List(r, 'Next Protocol');
        break;
      case KeRecordType.AeadAlgorithm:
        if (n.aeads) throw new KeProtocolError('two AEAD Algorithm records (RFC 8915 §4.1.5)', KeErrorCode.BadRequest);
        n.aeads = u16List(r, 'AEAD Algorithm');
        break;
      case KeRecordType.Server:
        n.server = asciiHost(r);
        break;
      case KeRecordType.Port:
        n.port = port(r);
        break;
      default:
        if (!own(r) && r.critical) throw new KeProtocolError(`unrecognised critical record type ${r.type}`, KeErrorCode.UnrecognizedCritical);
    }
  }
  return n;
}

/** A whole client message, checked as a server must (§4.1): one of each negotiation record, unknown critical records refused. */
export function parseKeRequest(records: KeRecord[]): KeRequest {
  const n = readNegotiation(records, (r) => {
    // §4.1.3, §4.1.4, §4.1.6: a client sends none of these.
    if (r.type === KeRecordType.Error || r.type === KeRecordType.Warning || r.type === KeRecordType.NewCookie)
      throw new KeProtocolError(`record type ${r.type} in a client's request`, KeErrorCode.BadRequest);
    return false;
  });
  if (!n.protocols) throw new KeProtocolError('no Next Protocol record (RFC 8915 §4.1.2)', KeErrorCode.BadRequest);
  // §4.1.5: required whenever the protocol list names NTPv4.
  if (n.protocols.includes(NTS_PROTOCOL_NTPV4) && !n.aeads) throw new KeProtocolError('no AEAD Algorithm record (RFC 8915 §4.1.5)', KeErrorCode.BadRequest);
  return {
    protocols: n.protocols,
    aeads: n.aeads ?? [],
    ...(n.server !== undefined ? { server: n.server } : {}),
    ...(n.port !== undefined ? { port: n.port } : {}),
  };
}

/** A client's request: NTPv4 with AES-SIV-CMAC-256. */
export function buildKeRequest(o: { server?: string; port?: number } = {}): Uint8Array {
  const records: KeRecord[] = [
    { critical: true, type: KeRecordType.NextProtocol, body: u16Body([NTS_PROTOCOL_NTPV4]) },
    { critical: false, type: KeRecordType.AeadAlgorithm, body: u16Body([AEAD_AES_SIV_CMAC_256]) },
  ];
  if (o.server !== undefined) records.push({ critical: false, type: KeRecordType.Server, body: te.encode(o.server) });
  if (o.port !== undefined) records.push({ critical: false, type: KeRecordType.Port, body: u16Body([o.port]) });
  records.push({ critical: true, type: KeRecordType.EndOfMessage, body: new Uint8Array(0) });
  return encodeRecords(records);
}

/**
 * A server's answer to a parsed request: NTPv4 and AES-SIV-CMAC-256 when
 * offered, the cookies, and the server and port when NTP goes elsewhere.
 * Nothing in common: an empty protocol list (§4.1.2), or NTPv4 with an empty
 * AEAD list (§4.1.5), and no cookies.
 */
export function buildKeResponse(req: KeRequest, o: { cookies: Uint8Array[]; server?: string; port?: number }): Uint8Array {
  const ntp = req.protocols.includes(NTS_PROTOCOL_NTPV4);
  const aead = ntp && req.aeads.includes(AEAD_AES_SIV_CMAC_256);
  const records: KeRecord[] = [{ critical: true, type: KeRecordType.NextProtocol, body: u16Body(ntp ? [NTS_PROTOCOL_NTPV4] : []) }];
  if (ntp) records.push({ critical: true, type: KeRecordType.AeadAlgorithm, body: u16Body(aead ? [AEAD_AES_SIV_CMAC_256] : []) });
  if (aead) {
    for (const c of o.cookies) records.push({ critical: false, type: KeRecordType.NewCookie, body: c });
    if (o.server !== undefined) records.push({ critical: true, type: KeRecordType.Server, body: te.encode(o.server) });
    if (o.port !== undefined) records.push({ critical: true, type: KeRecordType.Port, body: u16Body([o.port]) });
  }
  records.push({ critical: true, type: KeRecordType.EndOfMessage, body: new Uint8Array(0) });
  return encodeRecords(records);
}

/** A server's error message (§4.1.3). */
export function buildKeError(code: KeErrorCode): Uint8Array {
  return encodeRecords([
    { critical: true, type: KeRecordType.Error, body: u16Body([code]) },
    { critical: true, type: KeRecordType.EndOfMessage, body: new Uint8Array(0) },
  ]);
}

/** A whole server message, checked as a client must: an Error record, or NTPv4 with our AEAD and at least one cookie. */
export function parseKeResponse(records: KeRecord[]): KeResponse {
  const cookies: Uint8Array[] = [];
  const warnings: number[] = [];
  const n = readNegotiation(records, (r) => {
    if (r.type === KeRecordType.Error) {
      const [code] = u16List(r, 'Error');
      throw new KeProtocolError(`the server refused: error ${code ?? '(none)'} (RFC 8915 §4.1.3)`, code ?? KeErrorCode.BadRequest);
    }
    if (r.type === KeRecordType.Warning) warnings.push(...u16List(r, 'Warning'));
    else if (r.type === KeRecordType.NewCookie) {
      if (r.body.length === 0) throw new KeProtocolError('an empty cookie (RFC 8915 §4.1.6)', KeErrorCode.BadRequest);
      cookies.push(r.body);
    } else return false;
    return true;
  });
  // §4.1.2: exactly one protocol, one we offered; §4.1.5: exactly one AEAD, one we offered.
  const { protocols, aeads } = n;
  if (!protocols || protocols.length !== 1 || protocols[0] !== NTS_PROTOCOL_NTPV4)
    throw new KeProtocolError(`the server chose no protocol we offered: ${JSON.stringify(protocols)}`, KeErrorCode.BadRequest);
  if (!aeads || aeads.length !== 1 || aeads[0] !== AEAD_AES_SIV_CMAC_256)
    throw new KeProtocolError(`the server chose no AEAD we offered: ${JSON.stringify(aeads)}`, KeErrorCode.BadRequest);
  if (!cookies.length) throw new KeProtocolError('no cookies (RFC 8915 §4.1.6)', KeErrorCode.BadRequest);
  return {
    protocol: protocols[0],
    aead: aeads[0],
    cookies,
    ...(n.server !== undefined ? { server: n.server } : {}),
    ...(n.port !== undefined ? { port: n.port } : {}),
    warnings,
  };
}

/** The exporter context for the client-to-server (c2s) or server-to-client (s2c) key (§5.1). */
export function exporterContext(direction: 'c2s' | 's2c', aead = AEAD_AES_SIV_CMAC_256): Uint8Array {
  return Uint8Array.of(0, NTS_PROTOCOL_NTPV4, aead >> 8, aead & 0xff, direction === 'c2s' ? 0 : 1);
}
