import {request} from 'node:https';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {ThothError, errnoCode, errorMessage} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';

/**
 * How the `thoth server …` commands reach a running server: its admin API over HTTPS, trusting
 * the server's CA, with the admin bootstrap token. By default both come from the data directory
 * (`server.json` written at start, `admin-token`, `tls/ca.pem`); --url, --ca-file and
 * --token-file reach a server elsewhere.
 */
export interface AdminTarget {
  url: string;
  caPem: string;
  token: string;
}

export interface AdminTargetOptions {
  dataDir: string;
  url?: string | undefined;
  caFile?: string | undefined;
  tokenFile?: string | undefined;
}

export const SERVER_INFO_FILE = 'server.json';

export async function adminTarget(options: AdminTargetOptions): Promise<AdminTarget> {
  let url = options.url;
  if (url === undefined) {
    const infoFile = join(options.dataDir, SERVER_INFO_FILE);
    const info = await readText(
      infoFile,
      'the server address',
      `Start the server first (thoth server start --data-dir ${options.dataDir}), or pass --url.`,
    );
    try {
      url = String((JSON.parse(info) as {url?: unknown}).url);
    } catch {
      throw new ThothError('SERVER_INFO_INVALID', `${infoFile} is not valid JSON`, {
        exitCode: ExitCode.INVALID_INPUT,
        suggestions: ['Start the server again: it rewrites the file.'],
      });
    }
  }
  const caFile = options.caFile ?? join(options.dataDir, 'tls', 'ca.pem');
  const tokenFile = options.tokenFile ?? join(options.dataDir, 'admin-token');
  const caPem = await readText(caFile, 'the server CA certificate', 'Pass --ca-file with the CA the server printed at its first start.');
  const token = (
    await readText(tokenFile, 'the admin token', 'Pass --token-file with the token the server printed at its first start.')
  ).trim();
  return {url: url.replace(/\/+$/, ''), caPem, token};
}

/** One admin API call; the error body becomes a ThothError naming the server's error code. */
export function adminCall<T>(target: AdminTarget, method: string, path: string, body?: unknown): Promise<T> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const url = new URL(`${target.url}/api/admin/v1${path}`);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: target.caPem,
        minVersion: 'TLSv1.2',
        headers: {
          authorization: `Bearer ${target.token}`,
          accept: 'application/json',
          ...(text === undefined ? {} : {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw);
          } catch {
            return reject(
              new ThothError('SERVER_ANSWER_INVALID', `${method} ${url.pathname}: HTTP ${res.statusCode} with a body that is not JSON`, {
                exitCode: ExitCode.NETWORK,
              }),
            );
          }
          if ((res.statusCode ?? 500) < 300) return resolve(parsed as T);
          const error = (parsed as {error?: {code?: string; message?: string}}).error;
          const code = error?.code ?? 'HTTP';
          reject(
            new ThothError(
              `SERVER_${code}`,
              `the server refused ${method} ${url.pathname}: ${error?.message ?? `HTTP ${res.statusCode}`}`,
              {
                exitCode: EXIT_FOR[code] ?? ExitCode.NETWORK,
              },
            ),
          );
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (error) =>
      reject(
        new ThothError('SERVER_UNREACHABLE', `${target.url} cannot be reached: ${errorMessage(error)}`, {
          exitCode: ExitCode.NETWORK,
          suggestions: ['Is thoth server start running there?'],
        }),
      ),
    );
    req.end(text);
  });
}

const EXIT_FOR: Record<string, number> = {
  INVALID_REQUEST: ExitCode.INVALID_INPUT,
  NOT_FOUND: ExitCode.NOT_FOUND,
  CONFLICT: ExitCode.CONFLICT,
  UNAUTHENTICATED: ExitCode.SECURITY,
  FORBIDDEN: ExitCode.SECURITY,
};

async function readText(path: string, what: string, fix: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ThothError('SERVER_FILE_MISSING', `${what} cannot be read from ${path} (${errnoCode(error) ?? errorMessage(error)})`, {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: [fix],
    });
  }
}
