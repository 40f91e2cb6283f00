// A source's NTS state (RFC 8915 §5.7, the client's side): the keys and
// cookies an NTS-KE run gave, the request awaiting its answer, and when to
// run NTS-KE again. Pure: the shell runs NTS-KE ('nts-ke' actions) and hands
// the result back; the AEAD and randomness are passed in.
import { MAX_COOKIES, openResponse, sealRequest, type Aead, type NtsAnswer, type NtsKeys, type NtsPending } from '../ntp/nts.js';
import type { NtpPacket } from '../ntp/packet.js';
import type { Rng } from '../util/rng.js';

/** What an NTS-KE run gave the shell, handed back to the source. */
export interface NtsSessionResult {
  keys: NtsKeys;
  cookies: Uint8Array[];
  /** The NTP server and port NTS-KE named (§4.1.7, §4.1.8). */
  ntpAddress: string;
  ntpPort: number;
}

/** NTS-KE retries after a failure: 2 s, doubling, at most 2^maxpoll s (a server that is down is not hammered). */
export const NTS_KE_RETRY_NS = 2_000_000_000n;

export class NtsState {
  session: NtsSessionResult | null = null;
  pending: NtsPending | null = null;
  /** An NTS-KE run is under way in the shell. */
  running = false;
  failures = 0;
  nextKeMonoNs = 0n;
  readonly counters = { keRuns: 0, keFailures: 0, naks: 0, unauthenticated: 0 };
  lastError: string | null = null;

  get hasCookies(): boolean {
    return this.session !== null && this.session.cookies.length > 0;
  }

  /** Whether NTS-KE should run now; if so it is marked as running. */
  takeKe(monoNs: bigint): boolean {
    if (this.running || this.hasCookies || monoNs < this.nextKeMonoNs) return false;
    this.running = true;
    this.counters.keRuns++;
    return true;
  }

  /** An NTS-KE run ended: the session, or a failure and the back-off (capped at capNs). */
  ended(r: { session: NtsSessionResult } | { error: string }, monoNs: bigint, capNs: bigint): void {
    this.running = false;
    if ('error' in r) {
      this.failures++;
      this.counters.keFailures++;
      this.lastError = r.error;
      const waitNs = NTS_KE_RETRY_NS << BigInt(Math.min(this.failures - 1, 20));
      this.nextKeMonoNs = monoNs + (waitNs < capNs ? waitNs : capNs);
      return;
    }
    this.failures = 0;
    this.lastError = null;
    this.session = { ...r.session, cookies: r.session.cookies.slice(0, MAX_COOKIES) };
  }

  /** A request header sealed with one cookie and placeholders to hold eight cookies again (§5.7). */
  seal(header: NtpPacket, rng: Rng, aead: Aead): Uint8Array {
    const session = this.session!;
    const cookie = session.cookies.shift()!;
    const random = (n: number) => Uint8Array.from({ length: n }, () => rng.u32() & 0xff);
    const sealed = sealRequest(header, { keys: session.keys, cookie, placeholders: MAX_COOKIES - 1 - session.cookies.length, aead, random });
    this.pending = sealed.pending;
    return sealed.bytes;
  }

  /**
   * An answer to the pending request: null when it authenticates (its
   * cookies kept), else why not. A NAK (§5.7: the server refused our cookie,
   * new master keys or a restart) drops the session: NTS-KE runs again now.
   */
  open(bytes: Uint8Array, monoNs: bigint, aead: Aead | undefined): string | null {
    const a: NtsAnswer | null = this.pending && aead ? openResponse(bytes, this.pending, aead) : null;
    if (a?.ok) {
      this.pending = null;
      this.session?.cookies.push(...a.cookies.slice(0, MAX_COOKIES - this.session.cookies.length));
      return null;
    }
    const why = a ? a.reason : 'no NTS request outstanding';
    if (why === 'nak') {
      this.counters.naks++;
      this.session = null;
      this.pending = null;
      this.nextKeMonoNs = monoNs;
    } else {
      this.counters.unauthenticated++;
    }
    return why;
  }
}
