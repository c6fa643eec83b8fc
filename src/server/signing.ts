import {createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject} from 'node:crypto';

import {signedBytes} from '../control-plane/signed-records.js';
import type {Database} from './store/database.js';
import {newId} from './secrets.js';

/**
 * The server's Ed25519 signing key. It lives in the database, not in an instance's data
 * directory, so that every instance signs with the same key and endpoints pin one public key.
 * The first instance to start makes it; `where not exists` makes instances that start together
 * keep the first one written.
 */
export interface ServerSigningKey {
  keyId: string;
  /** The raw 32-byte public key, base64 (what endpoints pin). */
  publicKey: string;
  /** The record with its `keyId` and `signature` added. */
  sign<T extends Record<string, unknown>>(domain: string, fields: T): T & {keyId: string; signature: string};
}

const SIGNING_KEY_LOCK = 7_342_119;

export async function loadSigningKey(db: Database): Promise<ServerSigningKey> {
  // One key for every instance: the first to start makes it, under a lock, so two instances
  // started together cannot each insert one and sign with different keys.
  const row = await db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [SIGNING_KEY_LOCK]);
    const rows = await tx.query<{id: string; private_key: string}>(
      'select id, private_key from server_keys order by created_at, id limit 1',
    );
    if (rows.length > 0) return rows[0]!;
    const {privateKey, publicKey} = generateKeyPairSync('ed25519');
    const created = {id: newId('sk'), private_key: privateKey.export({type: 'pkcs8', format: 'pem'}).toString()};
    await tx.query(`insert into server_keys (id, algorithm, public_key, private_key) values ($1, 'ed25519', $2, $3)`, [
      created.id,
      rawPublicKey(publicKey),
      created.private_key,
    ]);
    return created;
  });
  const privateKey = createPrivateKey(row.private_key);
  const keyId = row.id;
  return {
    keyId,
    publicKey: rawPublicKey(createPublicKey(privateKey)),
    sign: (domain, fields) => {
      const record = {...fields, keyId};
      return {...record, signature: sign(null, signedBytes(domain, record), privateKey).toString('base64')};
    },
  };
}

export function rawPublicKey(key: KeyObject): string {
  const der = key.export({type: 'spki', format: 'der'});
  return der.subarray(der.length - 32).toString('base64');
}
