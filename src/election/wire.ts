// The election's wire format (docs/election.md has the byte diagram). One
// message shape for all three types, so every datagram also refreshes the
// sender's whole status. Pure: bytes in, a message or a named rejection out;
// nothing here throws on input from the network.
import { createHmac, timingSafeEqual } from 'node:crypto';

import { bytesToIp, ipToBytes, isMappedV4 } from '../util/ip.js';

export const MAGIC = 0x4354; // "CT"
/** 2: a server's messages list its candidates (succession without all-to-all heartbeats). 1 is refused with a named reason. */
export const VERSION = 2;
/** Candidates a server (the next in succession) or a node that knows of no server (the best it has heard from) names. */
export const MAX_CANDIDATES = 2;
/** Bytes of one candidate before its id. */
const CANDIDATE_BYTES = 28;
export const HEADER_BYTES = 72;
export const MAC_BYTES = 4 + 32; // key id + HMAC-SHA256
export const MAX_ID_BYTES = 64;
export const NO_AGE = 0xffffffff;

export enum MsgType {
  /** "Are you the NTP server?" Carries a fresh nonce the answer must echo. */
  Query = 1,
  /** The sender's status: the answer to a query (nonce echoed) or a heartbeat (nonce 0). */
  Status = 2,
  /** The sender is shutting down: forget it now instead of waiting for missed heartbeats. */
  Leaving = 3,
}

/** The seed's three states, with its numbers. */
export enum Role {
  None = 0,
  Client = 1,
  Server = 2,
}

export const FLAG_REFERENCE = 0x01; // synchronised to a real upstream or operator-trusted time
export const FLAG_CANNOT_SERVE = 0x02; // tried to serve and failed; skip me in the succession
export const FLAG_SYNCED = 0x04; // my clock follows my leader (clients) or is the reference (servers)
export const FLAG_MAC = 0x80; // an HMAC trailer follows the ids

export interface LeaderRef {
  id: string;
  /** IP literal of the leader as the sender reaches it. */
  address: string;
  /** The leader's cluster (election) port and NTP port. */
  port: number;
  ntpPort: number;
}

/** A node a server names as next in succession, with what precedence needs and where to reach it. */
export interface Candidate {
  id: string;
  address: string;
  port: number;
  ntpPort: number;
  priority: number;
  stratum: number;
  flags: number;
}

export interface ElectionMessage {
  type: MsgType;
  role: Role;
  flags: number;
  /** The sender's candidate stratum: its reference's stratum + 1, or its local stratum. */
  stratum: number;
  priority: number;
  /** Random per process start; with seq it makes every message unique (replay protection without wall time). */
  bootId: bigint;
  seq: bigint;
  /** Query: the challenge. Status: the challenge being answered, or 0 for a heartbeat. */
  nonce: bigint;
  /** A client's word on its leader: how long ago it last heard it, ms (NO_AGE: not a client). */
  leaderAgeMs: number;
  /** The sender's saved time floor, Unix ns (0: none). */
  floorNs: bigint;
  ntpPort: number;
  id: string;
  leader: LeaderRef | null;
  /** A server's next in succession, or the best a node that knows of no server has heard from, best first (at most MAX_CANDIDATES); empty from a client. */
  candidates: Candidate[];
}

export interface ClusterKey {
  id: number;
  secret: Uint8Array;
}

export type DecodeReject =
  | { reason: 'malformed'; detail: string }
  /** A clocktower election message of another protocol version (an older node): said once per sender, not parsed. */
  | { reason: 'version'; version: number }
  | { reason: 'unauthenticated' }
  | { reason: 'bad-mac' };

export type DecodeResult = { ok: true; msg: ElectionMessage } | ({ ok: false } & DecodeReject);

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function mac(key: ClusterKey, body: Uint8Array): Uint8Array {
  return createHmac('sha256', key.secret).update(body).digest();
}

export function encodeMessage(m: ElectionMessage, key?: ClusterKey): Uint8Array {
  const id = enc.encode(m.id);
  const leaderId = enc.encode(m.leader?.id ?? '');
  if (id.length === 0 || id.length > MAX_ID_BYTES || leaderId.length > MAX_ID_BYTES) throw new RangeError('node ids are 1..64 bytes of UTF-8');
  const cands = m.candidates.slice(0, MAX_CANDIDATES).map((c) => ({ c, id: enc.encode(c.id) }));
  for (const { id: cid } of cands) if (cid.length === 0 || cid.length > MAX_ID_BYTES) throw new RangeError('node ids are 1..64 bytes of UTF-8');
  const idsEnd = HEADER_BYTES + id.length + leaderId.length;
  const bodyLen = idsEnd + 1 + cands.reduce((n, x) => n + CANDIDATE_BYTES + x.id.length, 0);
  const out = new Uint8Array(bodyLen + (key ? MAC_BYTES : 0));
  const v = new DataView(out.buffer);
  v.setUint16(0, MAGIC);
  out[2] = VERSION;
  out[3] = m.type;
  out[4] = m.role;
  out[5] = (m.flags & ~FLAG_MAC) | (key ? FLAG_MAC : 0);
  out[6] = m.stratum;
  out[7] = id.length;
  v.setUint32(8, m.priority);
  v.setUint32(12, Math.min(NO_AGE, Math.max(0, Math.round(m.leaderAgeMs))));
  v.setBigUint64(16, m.bootId);
  v.setBigUint64(24, m.seq);
  v.setBigUint64(32, m.nonce);
  v.setBigInt64(40, m.floorNs);
  v.setUint16(48, m.ntpPort);
  if (m.leader) {
    const a = ipToBytes(m.leader.address);
    out[50] = isMappedV4(a) ? 4 : 6;
    v.setUint16(52, m.leader.port);
    v.setUint16(54, m.leader.ntpPort);
    out.set(a, 56);
  }
  out[51] = leaderId.length;
  out.set(id, HEADER_BYTES);
  out.set(leaderId, HEADER_BYTES + id.length);
  // Candidates: a count, then each: flags, stratum, id length, family, priority, port, NTP port, address, id.
  out[idsEnd] = cands.length;
  let at = idsEnd + 1;
  for (const { c, id: cid } of cands) {
    const a = ipToBytes(c.address);
    out[at] = c.flags & ~FLAG_MAC;
    out[at + 1] = c.stratum;
    out[at + 2] = cid.length;
    out[at + 3] = isMappedV4(a) ? 4 : 6;
    v.setUint32(at + 4, c.priority);
    v.setUint16(at + 8, c.port);
    v.setUint16(at + 10, c.ntpPort);
    out.set(a, at + 12);
    out.set(cid, at + CANDIDATE_BYTES);
    at += CANDIDATE_BYTES + cid.length;
  }
  if (key) {
    v.setUint32(bodyLen, key.id);
    out.set(mac(key, out.subarray(0, bodyLen)), bodyLen + 4);
  }
  return out;
}

/**
 * Checks and decodes one datagram. With a key, a message without a MAC is
 * 'unauthenticated' and one with a wrong key id or digest is 'bad-mac'.
 */
export function decodeMessage(bytes: Uint8Array, key?: ClusterKey): DecodeResult {
  const bad = (detail: string): DecodeResult => ({ ok: false, reason: 'malformed', detail });
  if (bytes.length < HEADER_BYTES) return bad(`${bytes.length} bytes, header is ${HEADER_BYTES}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint16(0) !== MAGIC) return bad('not a clocktower election message');
  if (bytes[2] !== VERSION) return { ok: false, reason: 'version', version: bytes[2]! };
  const type = bytes[3]!;
  if (type < MsgType.Query || type > MsgType.Leaving) return bad(`type ${type}`);
  const role = bytes[4]!;
  if (role > Role.Server) return bad(`role ${role}`);
  const flags = bytes[5]!;
  const idLen = bytes[7]!,
    leaderIdLen = bytes[51]!,
    family = bytes[50]!;
  if (idLen === 0 || idLen > MAX_ID_BYTES || leaderIdLen > MAX_ID_BYTES) return bad('id length');
  if (family !== 0 && family !== 4 && family !== 6) return bad(`leader family ${family}`);
  if ((family === 0) !== (leaderIdLen === 0)) return bad('leader id and address disagree');
  const idsEnd = HEADER_BYTES + idLen + leaderIdLen;
  if (bytes.length < idsEnd + 1) return bad(`length ${bytes.length}, ids end at ${idsEnd}`);
  const count = bytes[idsEnd]!;
  if (count > MAX_CANDIDATES) return bad(`${count} candidates`);
  let bodyLen = idsEnd + 1;
  for (let i = 0; i < count; i++) {
    if (bytes.length < bodyLen + CANDIDATE_BYTES) return bad('candidate cut short');
    const cidLen = bytes[bodyLen + 2]!;
    const fam = bytes[bodyLen + 3]!;
    if (cidLen === 0 || cidLen > MAX_ID_BYTES) return bad('candidate id length');
    if (fam !== 4 && fam !== 6) return bad(`candidate family ${fam}`);
    bodyLen += CANDIDATE_BYTES + cidLen;
  }
  const hasMac = (flags & FLAG_MAC) !== 0;
  if (bytes.length !== bodyLen + (hasMac ? MAC_BYTES : 0)) return bad(`length ${bytes.length}, expected ${bodyLen + (hasMac ? MAC_BYTES : 0)}`);
  if (key) {
    if (!hasMac) return { ok: false, reason: 'unauthenticated' };
    if (v.getUint32(bodyLen) !== key.id) return { ok: false, reason: 'bad-mac' };
    const want = mac(key, bytes.subarray(0, bodyLen));
    if (!timingSafeEqual(want, bytes.subarray(bodyLen + 4, bodyLen + MAC_BYTES))) return { ok: false, reason: 'bad-mac' };
  }
  let id: string, leaderId: string;
  const candidates: Candidate[] = [];
  try {
    id = dec.decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + idLen));
    leaderId = dec.decode(bytes.subarray(HEADER_BYTES + idLen, idsEnd));
    for (let i = 0, at = idsEnd + 1; i < count; i++) {
      const cidLen = bytes[at + 2]!;
      candidates.push({
        flags: bytes[at]! & ~FLAG_MAC,
        stratum: bytes[at + 1]!,
        priority: v.getUint32(at + 4),
        port: v.getUint16(at + 8),
        ntpPort: v.getUint16(at + 10),
        address: bytesToIp(bytes.slice(at + 12, at + 28)),
        id: dec.decode(bytes.subarray(at + CANDIDATE_BYTES, at + CANDIDATE_BYTES + cidLen)),
      });
      at += CANDIDATE_BYTES + cidLen;
    }
  } catch {
    return bad('ids are not UTF-8');
  }
  const addr = bytes.slice(56, 72);
  const msg: ElectionMessage = {
    type,
    role,
    flags: flags & ~FLAG_MAC,
    stratum: bytes[6]!,
    priority: v.getUint32(8),
    leaderAgeMs: v.getUint32(12),
    bootId: v.getBigUint64(16),
    seq: v.getBigUint64(24),
    nonce: v.getBigUint64(32),
    floorNs: v.getBigInt64(40),
    ntpPort: v.getUint16(48),
    id,
    leader: family === 0 ? null : { id: leaderId, address: bytesToIp(addr), port: v.getUint16(52), ntpPort: v.getUint16(54) },
    candidates,
  };
  return { ok: true, msg };
}
