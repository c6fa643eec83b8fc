import type {CompiledValidator} from '../util/validators.js';
import type {ApprovalWaiters} from './approvals.js';
import type {PolicyCache} from './central-policy.js';
import type {RateLimiter} from './rate-limit.js';
import type {ServerSigningKey} from './signing.js';
import type {Database} from './store/database.js';

/** What every route handler of one server instance shares. */
export interface ServerContext {
  db: Database;
  key: ServerSigningKey;
  policies: PolicyCache;
  waiters: ApprovalWaiters;
  /** The URL people and endpoints reach this server at (approval links). */
  publicUrl: string;
  /** The check-in cadence asked of endpoints (seconds), when set. */
  checkinIntervalSeconds: number | undefined;
  /** Requests per endpoint API key. */
  keyLimiter: RateLimiter;
  /** Admin API calls per admin, and login attempts per user name and per address. */
  adminLimiter: RateLimiter;
  loginLimiter: RateLimiter;
  /** Login attempts per client address (looser: an office behind one address). */
  addressLimiter: RateLimiter;
  validators: ReadonlyMap<string, CompiledValidator>;
  /** One line per event worth an operator's attention (never a credential). */
  log(line: string): void;
}
