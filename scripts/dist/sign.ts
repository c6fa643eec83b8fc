import {rename} from 'node:fs/promises';

import {runProgram} from '../registry-package.mjs';

/**
 * Authenticode for the MSI, with osslsigncode, when `npm run dist` is given an identity: a PKCS#12
 * file and a file holding its password (never the password itself on a command line, where every
 * local user could read it). Unsigned otherwise. The .pkg is signed on a Mac (productsign).
 */
export interface SigningIdentity {
  pkcs12: string;
  passwordFile: string;
  /** RFC 3161 time-stamping service, so the signature outlives the certificate. */
  timestampUrl?: string;
}

export async function signMsi(file: string, identity: SigningIdentity, description: string): Promise<void> {
  const signed = `${file}.signed`;
  const args = ['sign', '-pkcs12', identity.pkcs12, '-readpass', identity.passwordFile, '-h', 'sha256', '-n', description];
  if (identity.timestampUrl !== undefined) args.push('-ts', identity.timestampUrl);
  runProgram('osslsigncode', [...args, '-in', file, '-out', signed]);
  await rename(signed, file);
}
