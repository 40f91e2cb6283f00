// The pure-JavaScript comparison for bench/throughput: a node:dgram server
// answering with the same TypeScript core the native responder is tested
// against (decodePacket + buildResponse + encodePacket), one packet at a time.
// Usage: js-server.ts ADDRESS PORT
import dgram from 'node:dgram';

import { decodePacket, encodePacket } from '../../src/ntp/packet.js';
import { buildResponse, type ServerState } from '../../src/ntp/wire.js';

const [address = '127.0.0.1', port = '123'] = process.argv.slice(2);
const nowNs = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const state: ServerState = { leap: 0, stratum: 3, precisionLog2: -20, refId: 0x0a000007, referenceNs: nowNs(), rootDelayNs: 150_000, rootDispersionNs: 80_000 };
const sock = dgram.createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  const rx = nowNs();
  const d = decodePacket(msg);
  if (!d.ok) return;
  const resp = buildResponse(d.packet, rx, nowNs(), state);
  if (resp) sock.send(encodePacket(resp), rinfo.port, rinfo.address);
});
sock.bind(Number(port), address, () => console.log('ready'));
process.on('SIGTERM', () => sock.close());
