import {X509Certificate} from 'node:crypto';
import {readFile} from 'node:fs/promises';
import type {DetailedPeerCertificate, TLSSocket} from 'node:tls';

import {errnoCode, errorMessage} from '../core/errors.js';

/** The TLS settings (THOTH_TLS_*), resolved. */
export interface TlsSettings {
  /** THOTH_TLS_VERIFY: verify the chain and the host name (default true). */
  verify: boolean;
  /** THOTH_TLS_CA_BUNDLE: when set, only these CAs are trusted (PEM, one or more certificates). */
  caBundle?: string;
  /** THOTH_TLS_PINNED_CERT_SHA256: accepted leaf certificate SHA-256 fingerprints (lower-case hex). */
  pins: readonly string[];
  /** THOTH_TLS_PIN_CACHE_SECONDS in ms: how long a verified (host, leaf) pair is remembered. */
  pinCacheMs: number;
  /** THOTH_TLS_REQUIRE_AWS_BACKED_CERTS with THOTH_TLS_AWS_ACM_CERT_ARN / THOTH_TLS_AWS_PRIVATE_CA_ARN. */
  requireAwsBacked: boolean;
  acmCertArn?: string;
  privateCaArn?: string;
}

/**
 * A certificate thoth refuses. Never retried with weaker settings: the request fails, and the
 * remote enforcer turns it into a block whatever THOTH_ENFORCER_FAILURE_DECISION says.
 */
export class TlsPolicyError extends Error {
  constructor(
    readonly code: 'THOTH_TLS_PIN_MISMATCH' | 'THOTH_TLS_NOT_AWS_BACKED' | 'THOTH_TLS_NO_CERTIFICATE' | 'THOTH_TLS_CONFIG',
    message: string,
  ) {
    super(message);
    this.name = 'TlsPolicyError';
  }
}

/** What the connector needs: CA certificates (PEM) and the bundle's fingerprints. */
export interface TrustMaterial {
  ca?: string[];
  bundle: X509Certificate[];
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads THOTH_TLS_CA_BUNDLE and checks that the settings can be honoured at all. */
export async function loadTrust(
  settings: TlsSettings,
  read: (path: string) => Promise<string> = (path) => readFile(path, 'utf8'),
): Promise<TrustMaterial> {
  const trust: TrustMaterial = {bundle: []};
  if (settings.caBundle !== undefined) {
    let text: string;
    try {
      text = await read(settings.caBundle);
    } catch (error) {
      throw new TlsPolicyError(
        'THOTH_TLS_CONFIG',
        `THOTH_TLS_CA_BUNDLE ${settings.caBundle} cannot be read (${errnoCode(error) ?? errorMessage(error)})`,
      );
    }
    const blocks = text.match(PEM_BLOCK) ?? [];
    if (blocks.length === 0)
      throw new TlsPolicyError('THOTH_TLS_CONFIG', `THOTH_TLS_CA_BUNDLE ${settings.caBundle} holds no PEM certificate`);
    for (const block of blocks) {
      try {
        trust.bundle.push(new X509Certificate(block));
      } catch (error) {
        throw new TlsPolicyError(
          'THOTH_TLS_CONFIG',
          `THOTH_TLS_CA_BUNDLE ${settings.caBundle}: a certificate cannot be parsed (${errorMessage(error)})`,
        );
      }
    }
    trust.ca = blocks;
  }
  if (settings.requireAwsBacked && settings.acmCertArn === undefined && settings.privateCaArn === undefined) {
    throw new TlsPolicyError(
      'THOTH_TLS_CONFIG',
      'THOTH_TLS_REQUIRE_AWS_BACKED_CERTS is true but neither THOTH_TLS_AWS_ACM_CERT_ARN nor THOTH_TLS_AWS_PRIVATE_CA_ARN is set',
    );
  }
  if (settings.requireAwsBacked && settings.acmCertArn === undefined && trust.bundle.length === 0) {
    throw new TlsPolicyError(
      'THOTH_TLS_CONFIG',
      'THOTH_TLS_AWS_PRIVATE_CA_ARN needs THOTH_TLS_CA_BUNDLE to hold that private CA certificate (thoth checks the chain against it offline)',
    );
  }
  return trust;
}

/** `AB:CD:…` (Node's fingerprint256) → `abcd…`, the form the pins are kept in. */
export function normaliseFingerprint(fingerprint: string): string {
  return fingerprint.replaceAll(':', '').toLowerCase();
}

/**
 * Checks what the chain verification of Node cannot: the leaf pins and the AWS-backed requirement.
 * Runs on every new connection, after the handshake, whether or not THOTH_TLS_VERIFY is on, so
 * neither a pin nor the AWS requirement is ever skipped. The cache remembers (host, leaf) pairs
 * that passed for THOTH_TLS_PIN_CACHE_SECONDS, so that reconnections do not walk the chain again;
 * a leaf that is not in the cache is always checked in full, and failures are never cached.
 */
export class PeerVerifier {
  private readonly pins: ReadonlySet<string>;
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly settings: TlsSettings,
    private readonly trust: TrustMaterial,
    private readonly now: () => number = Date.now,
  ) {
    this.pins = new Set(settings.pins.map((pin) => normaliseFingerprint(pin.replace(/^sha256:/i, ''))));
  }

  get needed(): boolean {
    return this.pins.size > 0 || this.settings.requireAwsBacked;
  }

  check(socket: TLSSocket, host: string): TlsPolicyError | undefined {
    const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
    if (!leaf || typeof leaf.fingerprint256 !== 'string' || leaf.fingerprint256 === '') {
      return new TlsPolicyError('THOTH_TLS_NO_CERTIFICATE', `${host} presented no certificate`);
    }
    const fingerprint = normaliseFingerprint(leaf.fingerprint256);
    const key = `${host}\u0000${fingerprint}`;
    const until = this.verified.get(key);
    if (until !== undefined && until > this.now()) return undefined;

    if (this.pins.size > 0 && !this.pins.has(fingerprint)) {
      return new TlsPolicyError(
        'THOTH_TLS_PIN_MISMATCH',
        `TLS pin mismatch for ${host}: its leaf certificate sha256:${fingerprint} is not one of the ${this.pins.size} pinned in THOTH_TLS_PINNED_CERT_SHA256`,
      );
    }
    if (this.settings.requireAwsBacked) {
      const problem = this.awsBackedProblem(leaf, host);
      if (problem) return problem;
    }
    if (this.settings.pinCacheMs > 0) this.verified.set(key, this.now() + this.settings.pinCacheMs);
    return undefined;
  }

  /**
   * ACM (THOTH_TLS_AWS_ACM_CERT_ARN): an issuer in the chain is an Amazon CA (O=Amazon: the
   * Amazon RSA/ECDSA intermediates and Amazon Root CAs). ACM Private CA
   * (THOTH_TLS_AWS_PRIVATE_CA_ARN): the chain is issued by a CA of THOTH_TLS_CA_BUNDLE. thoth
   * cannot resolve an ARN offline; the ARNs select which of the two checks applies.
   */
  private awsBackedProblem(leaf: DetailedPeerCertificate, host: string): TlsPolicyError | undefined {
    const chain = chainOf(leaf);
    if (this.settings.acmCertArn !== undefined && chain.slice(1).some((cert) => organisations(cert).includes('Amazon'))) return undefined;
    if (this.settings.privateCaArn !== undefined && this.issuedByBundle(chain)) return undefined;
    const expected = [
      this.settings.acmCertArn !== undefined ? 'an Amazon CA (ACM)' : undefined,
      this.settings.privateCaArn !== undefined ? 'the private CA in THOTH_TLS_CA_BUNDLE (ACM Private CA)' : undefined,
    ].filter(Boolean);
    const issuer = organisations(chain[1] ?? leaf).join(', ') || 'unknown';
    return new TlsPolicyError(
      'THOTH_TLS_NOT_AWS_BACKED',
      `${host}'s certificate is not AWS-backed as THOTH_TLS_REQUIRE_AWS_BACKED_CERTS requires: expected a chain to ${expected.join(' or ')}, got issuer organisation "${issuer}"`,
    );
  }

  private issuedByBundle(chain: DetailedPeerCertificate[]): boolean {
    const bundle = new Set(this.trust.bundle.map((ca) => normaliseFingerprint(ca.fingerprint256)));
    for (const cert of chain) {
      if (bundle.has(normaliseFingerprint(cert.fingerprint256))) return true;
      let parsed: X509Certificate;
      try {
        parsed = new X509Certificate(cert.raw);
      } catch {
        continue;
      }
      if (this.trust.bundle.some((ca) => parsed.checkIssued(ca) && parsed.verify(ca.publicKey))) return true;
    }
    return false;
  }
}

function chainOf(leaf: DetailedPeerCertificate): DetailedPeerCertificate[] {
  const chain: DetailedPeerCertificate[] = [leaf];
  let current = leaf;
  while (current.issuerCertificate && current.issuerCertificate !== current && chain.length < 10) {
    current = current.issuerCertificate;
    chain.push(current);
  }
  return chain;
}

function organisations(cert: DetailedPeerCertificate): string[] {
  const value = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.['O'];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

const TLS_ERROR_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True for an error (or its cause) that is a certificate or TLS policy failure. */
export function isTlsFailure(error: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof TlsPolicyError) return true;
    const code = (current as {code?: unknown}).code;
    if (typeof code === 'string' && (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) return true;
    current = (current as {cause?: unknown}).cause;
  }
  return false;
}
