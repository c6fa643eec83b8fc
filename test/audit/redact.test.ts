import {describe, expect, it} from 'vitest';

import {buildContent, sha256, truncateUtf8} from '../../src/audit/content.js';
import {isSensitiveKey, redactJsonText, redactText, redactValue} from '../../src/audit/redact.js';
import {LargeNumber} from '../../src/core/json-rpc.js';

// Realistic shapes, not real secrets.
const SECRETS = {
  privateKey:
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgwMbRvI0MBZhpF\nq1w2N4nQ2Zt3dWZmkE+8vM=\n-----END RSA PRIVATE KEY-----',
  opensshKey:
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  bearer: 'Bearer ya29.a0AfH6SMBx3kL9q-T2vZ8yQpR4sWmN7oJ',
  awsAccessKey: 'AKIAIOSFODNN7EXAMPLE',
  awsSecretPair: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  openai: 'sk-proj-Abc123Def456Ghi789Jkl012Mno345Pqr678',
  anthropic: 'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
  github: 'ghp_1234567890abcdefghijklmnopqrstuvwxyzAB',
  slack: 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
  google: 'AIzaSyA1234567890abcdefghijklmnopqrstuv',
  stripe: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  urlPassword: 'postgres://admin:S3cr3tPassw0rd@db.internal:5432/prod',
  queryToken: 'https://api.example.com/v1/items?api_key=abcd1234efgh5678&page=2',
};

describe('redaction by shape', () => {
  for (const [name, secret] of Object.entries(SECRETS)) {
    it(`removes a ${name} from free text`, () => {
      const {value, count} = redactText(`note: ${secret} (end)`);
      expect(count).toBeGreaterThan(0);
      expect(value).toMatch(/\[REDACTED/);
      // No fragment of the secret's distinctive part survives.
      const core = secret
        .replace(/^(Bearer |aws_secret_access_key = |postgres:\/\/admin:|https:\/\/api\.example\.com\/v1\/items\?api_key=)/, '')
        .slice(0, 16);
      expect(value).not.toContain(core);
      expect(value.startsWith('note: ')).toBe(true);
    });
  }

  it('keeps what identifies the context: the Bearer scheme, the URL user and host, the name of a pair', () => {
    expect(redactText(SECRETS.bearer).value).toBe('Bearer [REDACTED:bearer]');
    expect(redactText(SECRETS.urlPassword).value).toBe('postgres://admin:[REDACTED:url-password]@db.internal:5432/prod');
    expect(redactText('password=hunter2&user=bob').value).toBe('password=[REDACTED:secret]&user=bob');
  });

  it('leaves ordinary text alone', () => {
    for (const text of [
      'Hello world',
      'The bearer of bad news',
      'skip-this-step',
      'Read /etc/hosts',
      'max 4096 tokens',
      'user@example.com',
    ]) {
      expect(redactText(text)).toEqual({value: text, count: 0});
    }
  });
});

describe('redaction by key', () => {
  it('recognises credential-like property names, not token counts', () => {
    for (const key of [
      'token',
      'password',
      'PASSWORD',
      'db_password',
      'passwd',
      'apiKey',
      'api-key',
      'x-api-key',
      'client_secret',
      'access_token',
      'refreshToken',
      'Authorization',
      'cookie',
      'Set-Cookie',
      'private_key',
      'credentials',
      'sessionId',
      'aws_secret_access_key',
    ]) {
      expect(isSensitiveKey(key), key).toBe(true);
    }
    for (const key of [
      'path',
      'tokens',
      'completion_tokens',
      'token_count',
      'max_tokens',
      'maxTokens',
      'total_tokens',
      'tokenizer',
      'author',
      'keyId',
      'publicKey',
      'monkey',
    ]) {
      expect(isSensitiveKey(key), key).toBe(false);
    }
  });

  it('replaces values under credential keys anywhere in arguments, keeps numbers and structure', () => {
    const args = {
      path: '/tmp/x',
      password: 'hunter2',
      max_tokens: 500,
      headers: {Authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l', Accept: 'application/json'},
      env: [{name: 'DATABASE_URL', value: SECRETS.urlPassword}],
      id: new LargeNumber('123456789012345678901234567890'),
      credentials: {user: 'bob', secret: 'x'},
    };
    const {value, count} = redactValue(args);
    expect(value).toEqual({
      path: '/tmp/x',
      password: '[REDACTED]',
      max_tokens: 500,
      headers: {Authorization: '[REDACTED]', Accept: 'application/json'},
      env: [{name: 'DATABASE_URL', value: 'postgres://admin:[REDACTED:url-password]@db.internal:5432/prod'}],
      id: args.id,
      credentials: '[REDACTED]',
    });
    expect(count).toBe(4);
  });

  it('redacts raw JSON text (too large to parse, possibly cut short)', () => {
    const text = `{"items":[{"token":"abc\\"def","name":"x"},{"note":"${SECRETS.github}"}],"password":"unterminated`;
    const {value} = redactJsonText(text);
    expect(value).toBe('{"items":[{"token":"[REDACTED]","name":"x"},{"note":"[REDACTED:api-key]"}],"password":"[REDACTED]');
  });
});

describe('content: capped, hashed, redacted', () => {
  const limits = {maxBytes: 1024};

  it('keeps small clean content byte for byte with the hash of the original', async () => {
    const json = '{"path":"/etc/hosts", "n":1}';
    const content = await buildContent(json, limits);
    expect(content).toEqual({
      content: json,
      contentBytes: json.length,
      contentSha256: sha256(json),
      contentHashOf: 'original',
      contentTruncated: false,
      redactions: 0,
    });
  });

  it('hashes the redacted text when a secret was removed, so a weak password cannot be confirmed from the hash', async () => {
    const json = JSON.stringify({user: 'bob', password: 'hunter2'});
    const content = await buildContent(json, limits);
    expect(content.content).toBe('{"user":"bob","password":"[REDACTED]"}');
    expect(content.contentHashOf).toBe('redacted');
    expect(content.contentSha256).toBe(sha256(content.content));
    expect(content.contentSha256).not.toBe(sha256(json));
  });

  it('caps large results, hashes all of them, and redacts the part kept', async () => {
    const big = Buffer.from(JSON.stringify({content: [{type: 'text', text: `${SECRETS.openai} ${'x'.repeat(400 * 1024)}`}]}));
    const content = await buildContent(big, limits);
    expect(content.contentTruncated).toBe(true);
    expect(content.contentBytes).toBe(big.length);
    expect(content.contentSha256).toBe(sha256(big));
    expect(content.contentHashOf).toBe('original');
    expect(Buffer.byteLength(content.content)).toBeLessThanOrEqual(1024);
    expect(content.content).toContain('[REDACTED:api-key]');
    expect(content.content).not.toContain('sk-proj');
  });

  it('never leaves the start of a secret that the cap cut in half', async () => {
    const text = JSON.stringify({note: `${'a '.repeat(500)}${SECRETS.github}`});
    const content = await buildContent(`${text}${' '.repeat(300 * 1024)}`, {maxBytes: 1010});
    expect(content.content).not.toMatch(/ghp_/);
    expect(content.content).not.toMatch(/[A-Za-z0-9]$/);
  });

  it('cuts on a character boundary', () => {
    expect(truncateUtf8('ééééé', 5)).toBe('éé');
    expect(truncateUtf8('a😀b', 4)).toBe('a');
  });

  it('hashes a multi-megabyte string with surrogate pairs the same as in one piece', async () => {
    const text = '😀'.repeat(700_000);
    const content = await buildContent(text, {maxBytes: 100});
    expect(content.contentSha256).toBe(sha256(text));
  });
});

describe('JSON escapes and cut text (issue 8)', () => {
  it('finds a token right after a \\n or \\t escape in raw JSON text, and gives the escapes back unchanged', () => {
    const json = JSON.stringify({
      log: `line one\n${SECRETS.github}\n\tAGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE6MUA\nmysqldump\t--password\tHunter-22 db`,
    });
    const {value, count} = redactJsonText(json);
    expect(value).toBe(
      '{"log":"line one\\n[REDACTED:api-key]\\n\\t[REDACTED:private-key]\\nmysqldump\\t--password\\t[REDACTED:secret] db"}',
    );
    expect(count).toBe(3);
    // The same string as a value (JSON inside a string keeps its escapes as text).
    expect(redactText(json).value).toBe(value);
  });

  it('leaves backslashes that are no layout escape, and text holding a no-break space before a line break, exactly as they were', () => {
    for (const text of ['C:\\new\\temp\\report.txt', 'a\\\\nb', 'ends with a backslash \\', 'nbsp\u00a0\nthen \\n escape']) {
      expect(redactText(text)).toEqual({value: text, count: 0});
    }
  });

  it('redacts a credential value that the cut ends right after a backslash', () => {
    expect(redactJsonText('{"password":"abc\\').value).toBe('{"password":"[REDACTED]');
    expect(redactJsonText('{"password":"a\\"b\\\\","x":"y"}').value).toBe('{"password":"[REDACTED]","x":"y"}');
  });

  it('reads an argv array item in the light of its flag, and only then', () => {
    expect(redactValue(['ls', '-l', '/tmp', '--color', 'auto']).value).toEqual(['ls', '-l', '/tmp', '--color', 'auto']);
    expect(redactValue(['psql', '-p', '5432', '-U', 'app']).value).toEqual(['psql', '-p', '5432', '-U', 'app']);
    expect(redactValue(['tool', '--token', 'abc123', 'next']).value).toEqual(['tool', '--token', '[REDACTED:secret]', 'next']);
  });
});
