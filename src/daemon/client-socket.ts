// The NTP client's sockets, for the daemon and for `clocktower query` alike:
// one endpoint per address family, opened on first use, and each request's
// departure time. A request is first stamped in user space just before
// send(); the kernel's TX stamp, when it comes off the error queue, replaces
// it. Only the latest request per tag is matched: a stamp that arrives after
// the next request went out is stale and dropped.
import net from 'node:net';

import { realtimeNs } from '../native/clock.js';
import { UdpEndpoint, type RecordBatch } from '../native/udp.js';

export interface ClientSocketHandlers {
  /**
   * A request's departure, system REALTIME ns: called once with the user-space
   * stamp (kernel false) as send() returns, and again with the kernel's TX
   * stamp (kernel true) if one arrives.
   */
  onSent(tag: string, sysNs: bigint, kernel: boolean): void;
  /** Datagrams on any of the sockets; the batch is valid only during the call. */
  onReply(batch: RecordBatch): void;
}

interface Sent {
  ep: UdpEndpoint;
  txId: number;
  userNs: bigint;
  kernelNs: bigint | null;
}

export class ClientSockets {
  readonly #handlers: ClientSocketHandlers;
  readonly #eps = new Map<4 | 6, UdpEndpoint>();
  readonly #sent = new Map<string, Sent>();

  constructor(handlers: ClientSocketHandlers) {
    this.#handlers = handlers;
  }

  /** Sends a request tagged `tag`; throws the socket's error (errno `.code`). */
  send(tag: string, bytes: Uint8Array, address: string, port: number): void {
    const ep = this.#endpoint(net.isIPv6(address.split('%')[0]!) ? 6 : 4);
    // Read before send(): a T1 that never postdates the departure keeps the error within delay/2 (RFC 5905 §8).
    const userNs = realtimeNs();
    const txId = ep.send(bytes, port, address, { txStamp: true });
    this.#sent.set(tag, { ep, txId, userNs, kernelNs: null });
    this.#handlers.onSent(tag, userNs, false);
  }

  /** How much later than the user-space stamp the kernel stamped tag's last request (null: no kernel stamp). */
  kernelLagNs(tag: string): bigint | null {
    const s = this.#sent.get(tag);
    return s?.kernelNs != null ? s.kernelNs - s.userNs : null;
  }

  /** Forgets a tag (a source that was removed). */
  forget(tag: string): void {
    this.#sent.delete(tag);
  }

  close(): void {
    for (const ep of this.#eps.values()) ep.close();
    this.#eps.clear();
    this.#sent.clear();
  }

  #endpoint(family: 4 | 6): UdpEndpoint {
    const ep = this.#eps.get(family);
    if (ep) return ep;
    const created: UdpEndpoint = new UdpEndpoint(
      { address: family === 4 ? '0.0.0.0' : '::' },
      {
        onBatch: (b) => this.#handlers.onReply(b),
        onTxStamp: (id, txNs) => {
          for (const [tag, s] of this.#sent) {
            if (s.ep !== created || s.txId !== id || s.kernelNs !== null) continue;
            s.kernelNs = txNs;
            this.#handlers.onSent(tag, txNs, true);
          }
        },
      },
    );
    this.#eps.set(family, created);
    return created;
  }
}
