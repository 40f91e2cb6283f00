// IP literals <-> 16 bytes (IPv4 as ::ffff:a.b.c.d), and CIDRs for the ACLs.
// Used by the config checks, the ACL encoder and the election wire format.
// Pure: the config and check-config need no addon.
import net from 'node:net';

/** An IPv4 or IPv6 literal (no zone) -> 16 bytes, IPv4 mapped; throws on anything else. */
export function ipToBytes(text: string): Uint8Array {
  const family = net.isIP(text);
  const out = new Uint8Array(16);
  if (family === 4) {
    out[10] = out[11] = 0xff;
    text.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  if (family !== 6) throw new TypeError(`not an IP address: ${JSON.stringify(text)}`);
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const groups = (s: string | undefined): number[] =>
    (s ? s.split(':') : []).flatMap((g) => {
      if (!g.includes('.')) return [parseInt(g, 16)];
      const p = g.split('.').map(Number);
      return [(p[0]! << 8) | p[1]!, (p[2]! << 8) | p[3]!];
    });
  const h = groups(head),
    t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  all.forEach((v, i) => {
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

export function isMappedV4(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** 16 bytes -> the canonical literal ("10.0.0.1" for mapped IPv4). */
export function bytesToIp(b: Uint8Array): string {
  if (isMappedV4(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // Node's SocketAddress compresses the longest zero run for us.
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** "a.b.c.d/n" or "x::y/n" -> 17 bytes: the address in IPv6 form (IPv4 mapped) and the prefix in that space. */
export function encodeCidr(text: string): Uint8Array {
  const [addr, bits] = text.split('/');
  const family = net.isIP(addr ?? '');
  if (family === 0) throw new TypeError(`bad CIDR ${JSON.stringify(text)}: not an IP address`);
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    throw new TypeError(`bad CIDR ${JSON.stringify(text)}: prefix must be 0..${max}`);
  }
  const out = new Uint8Array(17);
  out.set(ipToBytes(addr!), 0);
  out[16] = (family === 4 ? 96 : 0) + prefix;
  return out;
}
