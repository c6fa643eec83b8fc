import {idKey, type JsonObject} from '../core/json-rpc.js';
import type {ClientChannel} from '../governance/types.js';
import {asErrorObject} from './protocol-errors.js';

interface OwnRequest {
  settle(message: JsonObject): void;
  fail(error: Error): void;
}

export interface ClientRequestsIo {
  sessionId: string;
  /** Writes one message line to the client. */
  send(text: string): void;
  /** Whether the client can still be asked anything. */
  connected(): boolean;
  /** What the client declared in `initialize`. */
  capabilities(): Record<string, unknown> | undefined;
}

/**
 * thoth's own requests to the client (approval prompts), in an id space the server cannot
 * collide with (`thoth:<session>:<n>`), with a timeout, cancellation and a
 * `notifications/cancelled` when thoth gives up on one.
 */
export class ClientRequests {
  private readonly pending = new Map<string, OwnRequest>();
  private counter = 0;
  readonly channel: ClientChannel;

  constructor(private readonly io: ClientRequestsIo) {
    this.channel = {
      get capabilities() {
        return io.capabilities();
      },
      request: (method, params, {timeoutMs, signal}) => this.request(method, params, timeoutMs, signal),
    };
  }

  /** The client answered: true when the answer was to one of thoth's requests (then consumed). */
  answer(key: string | undefined, message: JsonObject): boolean {
    const own = key === undefined ? undefined : this.pending.get(key);
    if (!own) return false;
    own.settle(message);
    return true;
  }

  /** The client's answer could not be used: true when it was to one of thoth's requests. */
  fail(key: string | undefined, error: Error): boolean {
    const own = key === undefined ? undefined : this.pending.get(key);
    if (!own) return false;
    own.fail(error);
    return true;
  }

  failAll(error: Error): void {
    for (const own of this.pending.values()) own.fail(error);
  }

  private request(method: string, params: JsonObject, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    if (!this.io.connected()) return Promise.reject(new Error('the client is no longer connected'));
    const id = `thoth:${this.io.sessionId}:${++this.counter}`;
    const key = idKey(id)!;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(key);
      };
      const cancel = (reason: string): void => {
        this.io.send(JSON.stringify({jsonrpc: '2.0', method: 'notifications/cancelled', params: {requestId: id, reason}}));
      };
      const onAbort = (): void => {
        cleanup();
        cancel('thoth no longer needs the answer');
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const timer = setTimeout(() => {
        cleanup();
        cancel('timed out');
        reject(new Error(`the client did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, {once: true});
      this.pending.set(key, {
        settle: (message) => {
          cleanup();
          if (Object.hasOwn(message, 'error')) {
            const error = asErrorObject(message['error']);
            reject(Object.assign(new Error(`the client answered ${method} with an error: ${error.message}`), {rpcError: error}));
          } else {
            resolve(message['result']);
          }
        },
        fail: (error) => {
          cleanup();
          reject(error);
        },
      });
      this.io.send(JSON.stringify({jsonrpc: '2.0', id, method, params}));
    });
  }
}
