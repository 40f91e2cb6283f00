// "HOST[:PORT]" parsing for command lines and configs: IPv4, [IPv6]:port,
// bare IPv6, or a name (resolved by the caller).
import net from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string, defaultPort: number): HostPort {
  const bad = (why: string): never => {
    throw new TypeError(`bad address ${JSON.stringify(text)}: ${why}`);
  };
  let host = text.trim();
  let port = defaultPort;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) bad('missing ]');
    const rest = host.slice(close + 1);
    host = host.slice(1, close);
    if (rest) {
      if (!rest.startsWith(':')) bad('expected :PORT after ]');
      port = Number(rest.slice(1));
    }
    if (net.isIPv6(host.split('%')[0]!) === false) bad('not an IPv6 address inside [ ]');
  } else if (net.isIPv6(host.split('%')[0]!)) {
    // a bare IPv6 literal carries no port
  } else if (host.includes(':')) {
    const i = host.lastIndexOf(':');
    port = Number(host.slice(i + 1));
    host = host.slice(0, i);
  }
  if (!host) bad('empty host');
  if (!Number.isInteger(port) || port < 1 || port > 65535) bad('port must be 1..65535');
  return { host, port };
}

export function formatHostPort(h: HostPort): string {
  return net.isIPv6(h.host.split('%')[0]!) ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}
