import {execFile} from 'node:child_process';
import {generateKeyPairSync, X509Certificate} from 'node:crypto';
import {mkdir, readFile, rm, stat, writeFile} from 'node:fs/promises';
import {isIP} from 'node:net';
import {hostname} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';

import {ThothError, errnoCode, errorMessage} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';

const run = promisify(execFile);

export interface ServerPki {
  caCertPath: string;
  certPath: string;
  keyPath: string;
  /** The CA certificate (what endpoints put in THOTH_TLS_CA_BUNDLE). */
  caPem: string;
  certPem: string;
  keyPem: string;
  /** SHA-256 of the server certificate, lower-case hex (THOTH_TLS_PINNED_CERT_SHA256). */
  certSha256: string;
  /** True when this start made them. */
  created: boolean;
}

export interface PkiOptions {
  /** Names the certificate is for besides 127.0.0.1, ::1, localhost and this host's name. */
  names?: readonly string[];
  /** The openssl executable (default: `openssl` from PATH). */
  openssl?: string;
}

/**
 * The server's TLS material in `<data dir>/tls/`: on first start a private CA (ECDSA P-256, ten
 * years) and a server certificate it signs (397 days, the longest clients accept), made with the
 * system's openssl from keys made by Node (written 0600 before openssl sees them). Later starts
 * reuse them, so endpoints keep trusting the same CA; a certificate about to expire (or missing a
 * name asked for) is renewed under the same CA.
 */
export async function ensureServerPki(dataDir: string, options: PkiOptions = {}): Promise<ServerPki> {
  const dir = join(dataDir, 'tls');
  await mkdir(dir, {recursive: true, mode: 0o700});
  const paths = {
    caKey: join(dir, 'ca.key'),
    caCert: join(dir, 'ca.pem'),
    key: join(dir, 'server.key'),
    cert: join(dir, 'server.pem'),
  };
  const openssl = options.openssl ?? 'openssl';
  const names = subjectNames(options.names ?? []);
  let created = false;
  if (!(await exists(paths.caCert)) || !(await exists(paths.caKey))) {
    await writeKey(paths.caKey);
    await openSsl(openssl, [
      'req',
      '-x509',
      '-new',
      '-key',
      paths.caKey,
      '-out',
      paths.caCert,
      '-days',
      '3650',
      '-sha256',
      '-subj',
      `/O=thoth server/CN=thoth server CA ${hostname().slice(0, 32)}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await rm(paths.cert, {force: true});
    created = true;
  }
  if (!(await certificateUsable(paths.cert, names))) {
    await writeKey(paths.key);
    const csr = join(dir, 'server.csr');
    const ext = join(dir, 'server.ext');
    const san = names.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
    await writeFile(
      ext,
      `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
    );
    await openSsl(openssl, ['req', '-new', '-key', paths.key, '-out', csr, '-subj', '/O=thoth server/CN=thoth server']);
    await openSsl(openssl, [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      paths.caCert,
      '-CAkey',
      paths.caKey,
      '-CAcreateserial',
      '-out',
      paths.cert,
      '-days',
      '397',
      '-sha256',
      '-extfile',
      ext,
    ]);
    await rm(csr, {force: true});
    await rm(ext, {force: true});
    created = true;
  }
  const [caPem, certPem, keyPem] = await Promise.all([
    readFile(paths.caCert, 'utf8'),
    readFile(paths.cert, 'utf8'),
    readFile(paths.key, 'utf8'),
  ]);
  return {
    caCertPath: paths.caCert,
    certPath: paths.cert,
    keyPath: paths.key,
    caPem,
    certPem,
    keyPem,
    certSha256: new X509Certificate(certPem).fingerprint256.replaceAll(':', '').toLowerCase(),
    created,
  };
}

function subjectNames(extra: readonly string[]): string[] {
  const names = new Set(['127.0.0.1', '::1', 'localhost', hostname(), ...extra]);
  for (const name of names) if (name === '' || name === '0.0.0.0' || name === '::') names.delete(name);
  return [...names];
}

/** True when the certificate exists, is valid for 30 more days and names every host asked for. */
async function certificateUsable(path: string, names: readonly string[]): Promise<boolean> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(path));
  } catch {
    return false;
  }
  if (Date.parse(cert.validTo) - Date.now() < 30 * 86_400_000) return false;
  return names.every((name) => (isIP(name) ? cert.checkIP(name) : cert.checkHost(name)) !== undefined);
}

async function writeKey(path: string): Promise<void> {
  const {privateKey} = generateKeyPairSync('ec', {namedCurve: 'P-256'});
  await rm(path, {force: true});
  await writeFile(path, privateKey.export({type: 'pkcs8', format: 'pem'}), {mode: 0o600, flag: 'wx'});
}

async function openSsl(openssl: string, args: string[]): Promise<void> {
  try {
    await run(openssl, args, {timeout: 30_000});
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      throw new ThothError('SERVER_OPENSSL_MISSING', `thoth server needs openssl to make its certificates, and ${openssl} was not found`, {
        exitCode: ExitCode.NOT_FOUND,
        suggestions: ['Install openssl (Debian: apt-get install openssl) and start again.'],
      });
    }
    const stderr = (error as {stderr?: string}).stderr ?? '';
    throw new ThothError('SERVER_TLS_SETUP', `openssl ${args[0]} failed: ${stderr.trim().split('\n')[0] ?? errorMessage(error)}`, {
      exitCode: ExitCode.UNEXPECTED,
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}
