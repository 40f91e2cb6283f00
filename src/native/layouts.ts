// The layouts JS shares with the addon: the RX record and TX stamp record in
// the endpoint's slabs, the stamp sources, the server's counter slots and the
// key types the responder takes by index. The addon exports its own
// (native/layout.cc); checkLayouts() compares the two when the addon loads,
// so a build whose structs moved fails at once with the field named, not
// later with wrong numbers.

/** Which clock stamped a packet (native/timestamps.h StampSource). */
export enum StampSource {
  /** clock_gettime just after the receive call returned (no kernel stamp). */
  User = 0,
  /** Kernel SO_TIMESTAMP, microsecond resolution. */
  KernelUs = 1,
  /** Kernel SO_TIMESTAMPNS. */
  KernelNs = 2,
  /** Kernel SO_TIMESTAMPING software TX stamp. */
  KernelTx = 3,
}

/** Byte offsets in one RX record (native/record.h). */
export const RECORD = {
  len: 0,
  flags: 4,
  rxNs: 8,
  peerAddr: 16,
  peerPort: 32,
  family: 34,
  source: 35,
  scopeId: 36,
  ifIndex: 40,
  localAddr: 44,
  header: 64,
  flagTruncated: 1,
} as const;

/** One TX stamp record (native/udp_endpoint.h txrec). */
export const TX_RECORD = { id: 0, source: 4, ns: 8, bytes: 16 } as const;

/** The server's counters, in slot order (native/responder.h Counter). */
export const SERVER_COUNTERS = [
  'received',
  'answered',
  'slowPath',
  'dropMalformed',
  'dropUnsupportedMode',
  'dropDenied',
  'dropRateLimited',
  'dropBadMac',
  'dropUnauthenticated',
  'kodRate',
  'kodDeny',
  'dropTruncated',
  'sendErrors',
  'answeredInterleaved',
  'answeredNts',
  'ntsNak',
  'dropNts',
] as const;

/** Key types by the index the responder takes (native/ntp_mac.h KeyType). */
export const KEY_TYPES = ['MD5', 'SHA1', 'SHA256', 'SHA384', 'SHA512', 'AES128', 'AES256'] as const;

export interface NativeLayouts {
  record: Record<string, number>;
  txRecord: Record<string, number>;
  stampSources: Record<string, number>;
  serverCounters: string[];
  keyTypes: string[];
}

/** The fields where JS and the addon disagree, as "what: js X, addon Y" (empty: none). */
export function layoutMismatches(native: NativeLayouts): string[] {
  const out: string[] = [];
  const same = (what: string, js: Record<string, number | string>, addon: Record<string, number | string>) => {
    for (const k of new Set([...Object.keys(js), ...Object.keys(addon)])) {
      if (js[k] !== addon[k]) out.push(`${what}.${k}: js ${js[k] ?? '(none)'}, addon ${addon[k] ?? '(none)'}`);
    }
  };
  const sources = Object.fromEntries(Object.entries(StampSource).filter(([k]) => Number.isNaN(Number(k)))) as Record<string, number>;
  same('record', RECORD, native.record);
  same('txRecord', TX_RECORD, native.txRecord);
  same('stampSources', sources, native.stampSources);
  const byIndex = (names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n, i) => [String(i), n]));
  same('serverCounters', byIndex(SERVER_COUNTERS), byIndex(native.serverCounters));
  same('keyTypes', byIndex(KEY_TYPES), byIndex(native.keyTypes));
  return out;
}

export function checkLayouts(native: NativeLayouts | undefined, addonPath: string): void {
  // Non-Linux builds carry only the conversions: no slabs to read.
  if (native === undefined) return;
  const bad = layoutMismatches(native);
  if (bad.length) throw new Error(`the addon at ${addonPath} does not match this JS (rebuild it): ${bad.join('; ')}`);
}
