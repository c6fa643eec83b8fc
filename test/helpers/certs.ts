import {spawnSync} from 'node:child_process';
import {X509Certificate} from 'node:crypto';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

/**
 * Certificates made in the test with the system's openssl (real X.509, real chains): a CA and a
 * leaf for 127.0.0.1/localhost that it signed. Nothing is checked in.
 */
export const OPENSSL = '/usr/bin/openssl';

export interface TestCa {
  certPath: string;
  keyPath: string;
  pem: string;
}

export interface TestLeaf {
  certPath: string;
  keyPath: string;
  /** The leaf followed by its issuer (what a server sends). */
  chainPem: string;
  keyPem: string;
  certPem: string;
  /** SHA-256 of the leaf's DER, lower-case hex (the form THOTH_TLS_PINNED_CERT_SHA256 takes). */
  fingerprint: string;
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync(OPENSSL, args, {cwd, encoding: 'utf8'});
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
}

export function makeCa(dir: string, name: string, organisation = 'Thoth Test'): TestCa {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.pem`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      `/O=${organisation}/CN=${name} root`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return {certPath, keyPath, pem: readFileSync(certPath, 'utf8')};
}

export function makeLeaf(dir: string, name: string, ca: TestCa, sans = 'IP:127.0.0.1,DNS:localhost'): TestLeaf {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const certPath = join(dir, `${name}.pem`);
  const extPath = join(dir, `${name}.ext`);
  writeFileSync(extPath, `subjectAltName=${sans}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${name}`],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csrPath,
      '-CA',
      ca.certPath,
      '-CAkey',
      ca.keyPath,
      '-CAcreateserial',
      '-out',
      certPath,
      '-days',
      '2',
      '-extfile',
      extPath,
    ],
    dir,
  );
  const certPem = readFileSync(certPath, 'utf8');
  return {
    certPath,
    keyPath,
    certPem,
    chainPem: `${certPem}${ca.pem}`,
    keyPem: readFileSync(keyPath, 'utf8'),
    fingerprint: new X509Certificate(certPem).fingerprint256.replaceAll(':', '').toLowerCase(),
  };
}
