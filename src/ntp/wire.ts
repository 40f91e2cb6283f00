// The on-wire protocol (RFC 5905 §8, §9): building a client request, the
// tests a response must pass, and offset/delay/dispersion from the four
// timestamps, in integer nanoseconds. Also the server's reference answer,
// against which the native fast path is tested field by field. Pure.
import type { Rng } from '../util/rng.js';
import { signPacket, verifyPacket, type KeyRing, type NtpKey } from './auth.js';
import { decodePacket, emptyPacket, encodePacket, kissCode, Leap, Mode, type KissCode, type NtpPacket, type RejectReason } from './packet.js';
import { ntp64ToUnixNs, ntpShortToNs, nsToNtpShort, unixNsToNtp64 } from './time.js';

/** RFC 5905 §7.2: frequency tolerance, 15 ppm, as dispersion growth per second. */
export const PHI = 15e-6;
/** RFC 5905 §7.2 MAXSTRAT: 16 means unsynchronised. */
export const MAX_STRATUM = 16;
/** RFC 5905 §7.2 MAXDISP: 16 s. */
export const MAX_DISPERSION_NS = 16e9;
/** RFC 5905 §7.2 MAXDIST: root distance threshold, 1.5 s. */
export const MAX_DISTANCE_NS = 1.5e9;

/** A request in flight: what we sent and when. */
export interface Outstanding {
  /** The random transmit timestamp we put on the wire (chrony's anti-spoofing); the response must echo it. */
  transmitTs: bigint;
  /** Local (node) time the request left, in Unix ns: a kernel TX stamp when there is one. */
  t1Ns: bigint;
  version: number;
  mode: number;
  keyId: number | null;
  /** Sent in interleaved form (RFC 9769 §3): the receive field we sent, and the exchange before, which an interleaved reply completes. */
  interleaved?: InterleavedForm | null;
}

/**
 * An answered exchange: when our request left, when the server got it (its
 * receive field, as sent and decoded), when its reply arrived. Node / server /
 * node time, Unix ns. The next request in interleaved form names it.
 */
export interface Exchange {
  t1Ns: bigint;
  t2Ts: bigint;
  t2Ns: bigint;
  t4Ns: bigint;
}

/** The exchange a reply (accepted, with our t1 and t4) completes. */
export function exchangeOf(reply: NtpPacket, t1Ns: bigint, t4Ns: bigint): Exchange {
  return { t1Ns, t2Ts: reply.receiveTs, t2Ns: ntp64ToUnixNs(reply.receiveTs, t1Ns)!, t4Ns };
}

/** A request in interleaved form and the earlier exchange its reply would complete. */
export interface InterleavedForm {
  /** The receive field we sent: our RX stamp of the server's last reply; an interleaved reply echoes it as origin. */
  receiveTs: bigint;
  prev: Exchange;
}

export interface Request {
  bytes: Uint8Array;
  /** The header as sent, without a MAC (NTS adds its fields to it). */
  packet: NtpPacket;
  transmitTs: bigint;
  /** Set when built in interleaved form (opts.after): what the reply is checked against (Outstanding.interleaved). */
  interleaved: InterleavedForm | null;
}

/**
 * Builds a client (mode 3) or symmetric-active (mode 1) request. The
 * transmit timestamp is random rather than the send time (as chrony does),
 * so an off-path attacker cannot guess the origin a valid reply must carry,
 * and the request does not reveal our clock.
 */
export function buildRequest(opts: {
  rng: Rng;
  pollLog2: number;
  version?: number;
  mode?: number;
  key?: NtpKey;
  /** Interleaved form, naming this exchange: origin = the server's receive stamp of it, receive = our RX stamp of its reply. */
  after?: Exchange | null;
}): Request {
  const xl: InterleavedForm | null = opts.after ? { receiveTs: unixNsToNtp64(opts.after.t4Ns), prev: opts.after } : null;
  let transmitTs = opts.rng.u64();
  // Never 0, and never equal to the receive field: a server tells the forms apart by that (RFC 9769 §3).
  while (transmitTs === 0n || transmitTs === xl?.receiveTs) transmitTs = opts.rng.u64() || 1n;
  const p: NtpPacket = {
    ...emptyPacket(),
    leap: Leap.Unsynchronised,
    version: opts.version ?? 4,
    mode: opts.mode ?? Mode.Client,
    poll: opts.pollLog2,
    precision: -20,
    ...(xl ? { originTs: xl.prev.t2Ts, receiveTs: xl.receiveTs } : {}),
    transmitTs,
  };
  const unsigned = encodePacket(p);
  return { bytes: opts.key ? signPacket(unsigned, opts.key) : unsigned, packet: p, transmitTs, interleaved: xl };
}

/** One measurement of a source (RFC 5905 §8, §10). */
export interface Sample {
  /** θ: source time − local time. Bigint: a 1970 board against a 2026 server is 1.8e18 ns. */
  offsetNs: bigint;
  /** δ: round-trip delay, ≥ 0 after clamping to the local precision. */
  delayNs: number;
  /** ε: dispersion of this sample. */
  dispersionNs: number;
  /** t4, local time the response arrived. */
  localNs: bigint;
  stratum: number;
  leap: number;
  refId: number;
  rootDelayNs: number;
  rootDispersionNs: number;
  /** Server's poll and precision (log2 s). */
  pollLog2: number;
  precisionLog2: number;
  /** The server's reference time, Unix ns (null when unset). */
  referenceNs: bigint | null;
  /** t1..t4 for diagnostics, Unix ns (local / server / server / local). */
  t1Ns: bigint;
  t2Ns: bigint;
  t3Ns: bigint;
  t4Ns: bigint;
}

/**
 * Why a response was not accepted. Names follow RFC 5905 §8 and chrony's
 * ntp_core.c tests: test1 duplicate, test2 bogus (origin mismatch), test3
 * invalid timestamps, test5 authentication, test6 unsynchronised server,
 * test7 stratum/distance; plus malformed and wrong-mode packets and KoDs.
 */
export type ResponseReject =
  | { reason: 'malformed'; detail: RejectReason }
  | { reason: 'bad-mode' }
  | { reason: 'test1-duplicate' }
  | { reason: 'test2-bogus' }
  | { reason: 'test3-invalid-timestamps' }
  | { reason: 'test5-auth'; detail: string }
  | { reason: 'test6-unsynchronised' }
  | { reason: 'test7-stratum' }
  | { reason: 'test7-distance' }
  | { reason: 'kiss'; code: KissCode };

/** interleaved: the sample is the earlier exchange, completed by the server's TX stamp of its reply (RFC 9769). */
export type ResponseResult = { ok: true; sample: Sample; packet: NtpPacket; interleaved?: boolean } | ({ ok: false } & ResponseReject);

export interface ResponseContext {
  outstanding: Outstanding | null;
  /** Transmit timestamp of the last response accepted from this source (test1). */
  lastTransmitTs: bigint | null;
  /** Local time the response arrived (kernel RX stamp mapped to node time). */
  t4Ns: bigint;
  /** Local clock precision, log2 s. */
  localPrecisionLog2: number;
  /** Keys for authenticated associations; `requireKeyId` demands that key. */
  keys?: KeyRing;
  requireKeyId?: number | null;
  /** Root distance limit; default MAX_DISTANCE_NS. */
  maxDistanceNs?: number;
}

function log2ToNs(l: number): number {
  return 2 ** l * 1e9;
}

/** Applies the RFC 5905 §8 tests to a response and, when it passes, computes the sample. */
export function processResponse(bytes: Uint8Array, ctx: ResponseContext): ResponseResult {
  const d = decodePacket(bytes);
  if (!d.ok) return { ok: false, reason: 'malformed', detail: d.reason };
  const p = d.packet;
  const out = ctx.outstanding;
  const expectMode = out?.mode === Mode.SymmetricActive ? Mode.SymmetricPassive : Mode.Server;
  if (p.mode !== expectMode) return { ok: false, reason: 'bad-mode' };
  if (ctx.lastTransmitTs !== null && p.transmitTs === ctx.lastTransmitTs) return { ok: false, reason: 'test1-duplicate' };
  // Only a reply to our own outstanding request counts; once matched it is
  // forgotten, so a replay of a good reply fails here too. An interleaved
  // reply echoes the receive field of a request in interleaved form instead
  // (RFC 9769 §3, chrony's test2i).
  const xl = out?.interleaved ?? null;
  const interleaved = xl !== null && p.originTs === xl.receiveTs && p.originTs !== out!.transmitTs;
  if (!out || (p.originTs !== out.transmitTs && !interleaved)) return { ok: false, reason: 'test2-bogus' };
  if (ctx.requireKeyId !== undefined && ctx.requireKeyId !== null) {
    const a = verifyPacket(bytes, p, ctx.keys ?? new Map());
    if (a.status !== 'ok' || a.keyId !== ctx.requireKeyId) return { ok: false, reason: 'test5-auth', detail: a.status };
  }
  const kiss = kissCode(p);
  if (kiss !== null) return { ok: false, reason: 'kiss', code: kiss };
  const bad = headerTests(p);
  if (bad) return bad;

  // Server stamps decode to the instant nearest our own clock: correct for
  // any offset under 68 years, including a 1970 board meeting a 2026 server.
  if (interleaved) {
    // The earlier exchange, with the server's real transmit time: T1, T2 and T4 from then, T3 from now.
    const { t1Ns, t2Ns, t4Ns } = xl!.prev;
    const t3 = ntp64ToUnixNs(p.transmitTs, t1Ns)!;
    // The server took its time between receive and transmit, but not less than none or more than a second.
    if (t3 < t2Ns || t3 - t2Ns > 1_000_000_000n) return { ok: false, reason: 'test3-invalid-timestamps' };
    const r = sampleOf(p, t1Ns, t2Ns, t3, t4Ns, ctx);
    return r.ok ? { ...r, interleaved: true } : r;
  }
  const t1 = out.t1Ns;
  return sampleOf(p, t1, ntp64ToUnixNs(p.receiveTs, t1)!, ntp64ToUnixNs(p.transmitTs, t1)!, ctx.t4Ns, ctx);
}

/** Offset, delay, dispersion and the §11.2.1 fit test, from the four timestamps. */
function sampleOf(p: NtpPacket, t1: bigint, t2: bigint, t3: bigint, t4: bigint, ctx: { localPrecisionLog2: number; maxDistanceNs?: number }): ResponseResult {
  const offsetNs = (t2 - t1 + (t3 - t4)) / 2n;
  const localPrecisionNs = log2ToNs(ctx.localPrecisionLog2);
  const delayNs = Math.max(Number(t4 - t1 - (t3 - t2)), localPrecisionNs);
  const dispersionNs = log2ToNs(p.precision) + localPrecisionNs + PHI * Number(t4 - t1);
  const rootDelayNs = Number(ntpShortToNs(p.rootDelay));
  const rootDispersionNs = Number(ntpShortToNs(p.rootDispersion));
  // test7 (RFC 5905 §11.2.1 "fit"): root distance of this sample alone.
  const distance = (rootDelayNs + delayNs) / 2 + rootDispersionNs + dispersionNs;
  if (distance > (ctx.maxDistanceNs ?? MAX_DISTANCE_NS)) return { ok: false, reason: 'test7-distance' };
  return {
    ok: true,
    packet: p,
    sample: {
      offsetNs,
      delayNs,
      dispersionNs,
      localNs: t4,
      stratum: p.stratum,
      leap: p.leap,
      refId: p.refId,
      rootDelayNs,
      rootDispersionNs,
      pollLog2: p.poll,
      precisionLog2: p.precision,
      referenceNs: ntp64ToUnixNs(p.referenceTs, t1),
      t1Ns: t1,
      t2Ns: t2,
      t3Ns: t3,
      t4Ns: t4,
    },
  };
}

/** RFC 5905 §8 header tests a server's packet must pass whatever its mode: 3, 6 and 7 (stratum). Broadcasts carry no receive stamp. */
function headerTests(p: NtpPacket, hasReceive = true): ResponseResult | null {
  if ((hasReceive && p.receiveTs === 0n) || p.transmitTs === 0n) return { ok: false, reason: 'test3-invalid-timestamps' };
  if (p.leap === Leap.Unsynchronised || p.referenceTs === 0n) return { ok: false, reason: 'test6-unsynchronised' };
  if (p.stratum >= MAX_STRATUM) return { ok: false, reason: 'test7-stratum' };
  return null;
}

export interface BroadcastContext {
  /** Transmit timestamp of the last broadcast accepted from this server (test1). */
  lastTransmitTs: bigint | null;
  /** Local time the broadcast arrived. */
  t4Ns: bigint;
  /** Round-trip delay to the broadcaster, measured by a client/server volley. */
  delayNs: number;
  localPrecisionLog2: number;
  keys?: KeyRing;
  /** Only signed broadcasts count (a MAC, when present, must always verify). */
  requireAuth?: boolean;
  maxDistanceNs?: number;
}

/**
 * A broadcast (mode 5) packet (RFC 5905 §8, §9.2 broadcast client): there
 * is no request, so no origin to match; the offset is the server's transmit
 * time plus half the round trip measured beforehand, minus the arrival time.
 */
export function processBroadcast(bytes: Uint8Array, ctx: BroadcastContext): ResponseResult {
  const d = decodePacket(bytes);
  if (!d.ok) return { ok: false, reason: 'malformed', detail: d.reason };
  const p = d.packet;
  if (p.mode !== Mode.Broadcast) return { ok: false, reason: 'bad-mode' };
  if (ctx.lastTransmitTs !== null && p.transmitTs <= ctx.lastTransmitTs) return { ok: false, reason: 'test1-duplicate' };
  const a = verifyPacket(bytes, p, ctx.keys ?? new Map());
  if (a.status !== 'ok' && (a.status !== 'none' || ctx.requireAuth)) return { ok: false, reason: 'test5-auth', detail: a.status };
  const bad = headerTests(p, false);
  if (bad) return bad;
  const t4 = ctx.t4Ns;
  const t3 = ntp64ToUnixNs(p.transmitTs, t4)!;
  // As a client/server exchange with t2 = t3 and t1 = t4 - delay: θ = t3 - t4 + δ/2.
  const delay = BigInt(Math.round(ctx.delayNs));
  return sampleOf(p, t4 - delay, t3, t3, t4, ctx);
}

/**
 * A broadcast packet from a server in `state` (RFC 5905 §9.2, mode 5):
 * `pollLog2` is the broadcast interval, origin and receive stamps are zero.
 * Null when the server has no time to give.
 */
export function buildBroadcast(state: ServerState, txNs: bigint, pollLog2: number, key?: NtpKey): Uint8Array | null {
  if (state.leap === Leap.Unsynchronised || state.stratum >= MAX_STRATUM || state.stratum === 0) return null;
  const ageS = state.referenceNs === null ? 0 : Math.max(0, Number(txNs - state.referenceNs)) / 1e9;
  const unsigned = encodePacket({
    ...emptyPacket(),
    leap: state.leap,
    version: 4,
    mode: Mode.Broadcast,
    stratum: state.stratum,
    poll: pollLog2,
    precision: state.precisionLog2,
    rootDelay: nsToNtpShort(BigInt(Math.round(state.rootDelayNs))),
    rootDispersion: nsToNtpShort(BigInt(Math.round(state.rootDispersionNs + PHI * ageS * 1e9))),
    refId: state.refId,
    referenceTs: state.referenceNs === null ? 0n : unixNsToNtp64(state.referenceNs),
    transmitTs: unixNsToNtp64(txNs),
  });
  return key ? signPacket(unsigned, key) : unsigned;
}

/** What a server says about itself in every response. */
export interface ServerState {
  leap: number;
  stratum: number;
  precisionLog2: number;
  refId: number;
  /** When the server's clock was last updated from its source, node time (null: never). */
  referenceNs: bigint | null;
  rootDelayNs: number;
  /** Root dispersion at referenceNs; it grows by PHI per second after. */
  rootDispersionNs: number;
}

export const UNSYNCHRONISED: ServerState = {
  leap: Leap.Unsynchronised,
  stratum: MAX_STRATUM,
  precisionLog2: -20,
  refId: 0,
  referenceNs: null,
  rootDelayNs: 0,
  rootDispersionNs: 0,
};

/**
 * RFC 9769 §3: a client request in interleaved form. Its origin names one of
 * our receive stamps (the lowest bit, which a server sets in every receive
 * stamp and clears in every basic transmit stamp, as chrony does) and its
 * receive and transmit differ. Whether the server answers it interleaved
 * depends on still holding the TX stamp of the reply that origin names.
 */
export function isInterleavedRequest(req: NtpPacket): boolean {
  return req.version === 4 && req.mode === Mode.Client && (req.originTs & 1n) === 1n && req.receiveTs !== req.transmitTs;
}

/**
 * The answer to a client (mode 3) or symmetric-active (mode 1) request
 * (RFC 5905 §8, §9.2): version and poll echoed, origin = the request's
 * transmit, receive/transmit from our clock, the rest from `state`. An
 * unsynchronised server answers leap 3 and stratum 16 so clients never
 * select it. Returns null for requests a server does not answer.
 */
export function buildResponse(req: NtpPacket, rxNs: bigint, txNs: bigint, state: ServerState, opts: { interleavedTxTs?: bigint } = {}): NtpPacket | null {
  if (req.mode !== Mode.Client && req.mode !== Mode.SymmetricActive) return null;
  const synced = state.leap !== Leap.Unsynchronised && state.stratum < MAX_STRATUM;
  const ageS = state.referenceNs === null ? 0 : Math.max(0, Number(rxNs - state.referenceNs)) / 1e9;
  return {
    leap: synced ? state.leap : Leap.Unsynchronised,
    version: req.version,
    mode: req.mode === Mode.Client ? Mode.Server : Mode.SymmetricPassive,
    stratum: synced ? state.stratum : MAX_STRATUM,
    poll: req.poll,
    precision: state.precisionLog2,
    rootDelay: nsToNtpShort(BigInt(Math.round(state.rootDelayNs))),
    rootDispersion: nsToNtpShort(BigInt(Math.round(state.rootDispersionNs + PHI * ageS * 1e9))),
    refId: state.refId,
    referenceTs: state.referenceNs === null ? 0n : unixNsToNtp64(state.referenceNs),
    // Interleaved (RFC 9769 §3): origin = the request's receive, transmit = the earlier reply's TX stamp.
    originTs: opts.interleavedTxTs !== undefined ? req.receiveTs : req.transmitTs,
    // Receive stamps have the lowest bit set, basic transmit stamps clear: see isInterleavedRequest.
    receiveTs: unixNsToNtp64(rxNs) | 1n,
    transmitTs: opts.interleavedTxTs ?? unixNsToNtp64(txNs) & ~1n,
    extensions: [],
    mac: null,
  };
}
