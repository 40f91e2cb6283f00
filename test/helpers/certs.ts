// Throwaway TLS certificates for NTS tests.
// - selfSignedCert: self-signed, P-256, valid from now for 2 days, for the
//   names and addresses given (default localhost and 127.0.0.1); openssl, in
//   a temp dir removed at once.
// - datedCerts: a private CA and leaves with chosen validity (a board's first
//   boot: a certificate not yet valid by this machine's clock), one signed by
//   another CA under the same names; Python's cryptography, which can set
//   any dates (openssl 3.0's req cannot start in the future).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function selfSignedCert(o: { names?: string[]; ips?: string[] } = {}): { cert: string; key: string } {
  const names = o.names ?? ['localhost'];
  const ips = o.ips ?? ['127.0.0.1'];
  const san = [...names.map((n) => `DNS:${n}`), ...ips.map((i) => `IP:${i}`)].join(',');
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        `${dir}/key.pem`,
        '-out',
        `${dir}/cert.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${names[0] ?? ips[0]}`,
        '-addext',
        `subjectAltName=${san}`,
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(`${dir}/cert.pem`, 'utf8'), key: readFileSync(`${dir}/key.pem`, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether Python's cryptography (datedCerts) is importable. */
export function hasPythonCryptography(): boolean {
  try {
    execFileSync('python3', ['-c', 'from cryptography import x509'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface DatedCerts {
  ca: string;
  /** Signed by `ca`, valid from notBefore to notAfter. */
  leaf: { cert: string; key: string };
  /** The same names and dates, signed by another CA: never to be trusted. */
  rogue: { cert: string; key: string };
}

const SCRIPT = `
import datetime, json, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
import ipaddress
a = json.loads(sys.argv[1])
t = lambda s: datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))
pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()
kpem = lambda k: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
now = datetime.datetime.now(datetime.timezone.utc)
def ca(cn):
    k = ec.generate_private_key(ec.SECP256R1())
    n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    c = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(k, hashes.SHA256()))
    return k, c
def leaf(ca_key, ca_cert):
    k = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in a['names']] + [x509.IPAddress(ipaddress.ip_address(i)) for i in a['ips']]
    c = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (a['names'] + a['ips'])[0])]))
         .issuer_name(ca_cert.subject).public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(t(a['notBefore'])).not_valid_after(t(a['notAfter']))
         .add_extension(x509.SubjectAlternativeName(san), critical=False).sign(ca_key, hashes.SHA256()))
    return {'cert': pem(c), 'key': kpem(k)}
ck, cc = ca('clocktower test CA')
rk, rc = ca('clocktower test CA')
print(json.dumps({'ca': pem(cc), 'leaf': leaf(ck, cc), 'rogue': leaf(rk, rc)}))
`;

export function datedCerts(o: { names?: string[]; ips?: string[]; notBefore: string; notAfter: string }): DatedCerts {
  const args = JSON.stringify({ names: o.names ?? [], ips: o.ips ?? ['127.0.0.1'], notBefore: o.notBefore, notAfter: o.notAfter });
  return JSON.parse(execFileSync('python3', ['-c', SCRIPT, args], { encoding: 'utf8' })) as DatedCerts;
}
