import type {SignedGrant, SignedPinDecision} from './signed-records.js';

/**
 * The HTTP contract between thoth and a control plane, one entry per route. The bodies are
 * specified by the JSON Schemas in `schemas/control-plane/` (the contract of record); the types
 * below mirror them for the compiler. The client validates every answer against the response
 * schema, and the test suite's control plane validates every request against the request schema.
 *
 * Hosts: `enforcer` is THOTH_ENFORCER_URL (default https://enforce.<tenant>.<apex>), `govapi` is
 * THOTH_GOVAPI_URL (default https://grid.<tenant>.<apex>). Paths are appended to the URL's path.
 */
export const ROUTES = {
  register: {
    host: 'govapi',
    method: 'POST',
    path: '/v1/endpoints/register',
    request: 'control-plane/register-request',
    response: 'control-plane/register-response',
  },
  checkin: {
    host: 'govapi',
    method: 'POST',
    path: '/v1/endpoints/checkin',
    request: 'control-plane/checkin-request',
    response: 'control-plane/checkin-response',
  },
  eventBatch: {
    host: 'govapi',
    method: 'POST',
    path: '/v1/events/batch',
    request: 'control-plane/event-batch-request',
    response: 'control-plane/event-batch-response',
  },
  enforce: {
    host: 'enforcer',
    method: 'POST',
    path: '/v1/enforce',
    request: 'control-plane/enforce-request',
    response: 'control-plane/enforce-response',
  },
  holdWait: {
    host: 'enforcer',
    method: 'POST',
    path: '/v1/enforce/holds/wait',
    request: 'control-plane/hold-wait-request',
    response: 'control-plane/hold-wait-response',
  },
} as const satisfies Record<string, {host: ControlPlaneHost; method: 'POST'; path: string; request: string; response: string}>;

export const ERROR_SCHEMA = 'control-plane/error';

export type ControlPlaneHost = 'enforcer' | 'govapi';
export type RouteName = keyof typeof ROUTES;

export interface Warning {
  code: string;
  message: string;
}

export interface GovernedServers {
  governed: number;
  notGoverned: number;
  drift: number;
  ungovernable: number;
  clients: number;
}

export interface RegisterRequest {
  endpointId: string;
  identitySource: 'endpoint-id' | 'intune' | 'jamf' | 'machine-id' | 'hostname';
  tenantId: string | null;
  fleetId: string | null;
  hostname: string;
  os: {platform: string; release: string; arch: string};
  thothVersion: string;
  enrollmentSource: 'jamf' | 'intune' | 'manual' | 'unmanaged';
  userId: string | null;
  governedServers: GovernedServers | null;
  sentAt: string;
}

export interface RegisterResponse {
  endpointId: string;
  status: 'enrolled';
  created: boolean;
  enrolledAt: string;
  fleetId?: string | null;
  checkinIntervalSeconds?: number;
  /** The control plane's signing key, pinned at enrollment (see signed-records.ts). */
  serverKey?: {algorithm: 'ed25519'; keyId: string; publicKey: string};
  warnings?: Warning[];
}

export interface CheckinRequest {
  endpointId: string;
  tenantId: string | null;
  fleetId: string | null;
  thothVersion: string;
  sequence: number;
  sentAt: string;
  governedServers: GovernedServers | null;
}

export interface CheckinResponse {
  receivedAt: string;
  nextCheckinSeconds?: number;
  /** The central policy the enforcer decides with (null: none). */
  policy?: {version: string; uploadedAt?: string} | null;
  /** Signed fleet decisions on changed tool definitions. */
  pinDecisions?: SignedPinDecision[];
  warnings?: Warning[];
}

export interface EnforceRequest {
  requestId: string;
  tenantId: string | null;
  endpointId: string;
  userId: string | null;
  agentId: string;
  sessionId: string;
  mode: 'progressive' | 'step_up' | 'block' | 'observe';
  intent: string | null;
  tool: string;
  arguments: unknown;
  argumentsSha256: string;
  sessionToolCalls: string[];
  client: {name?: string; version?: string} | null;
  local: {decision: 'allow' | 'step_up'; ruleId: string};
  sentAt: string;
}

export interface RemoteApproval {
  id: string;
  url?: string;
  holdToken?: string;
  expiresAt?: string;
}

export interface EnforceResponse {
  decision: 'allow' | 'block' | 'step_up';
  reason: string;
  ruleId: string;
  approval?: RemoteApproval;
  /** With an allow that spends an earlier approval: its signed grant. */
  grant?: SignedGrant;
  warnings?: Warning[];
}

export interface HoldWaitRequest {
  holdToken: string;
  approvalId: string;
  waitMs: number;
}

export interface HoldWaitResponse {
  approvalId: string;
  state: 'pending' | 'approved' | 'denied' | 'expired';
  decidedBy?: string;
  decidedAt?: string;
  note?: string;
  /** The signed decision, once decided (a control plane that signs). */
  grant?: SignedGrant;
}

export interface ShippedEvent {
  chain: string;
  seq: number;
  event: {eventId: string; type: string; timestamp: string; [field: string]: unknown};
  /** The record's `prev` and the SHA-256 of its line: the control plane anchors the chain with them. */
  prev?: string;
  hash?: string;
}

/** A control record's place in its chain (no content), so the chain's links can be followed across it. */
export interface ChainLink {
  chain: string;
  seq: number;
  prev: string;
  hash: string;
  closed?: boolean;
}

export interface EventBatchRequest {
  batchId: string;
  endpointId: string;
  tenantId: string | null;
  sentAt: string;
  events: ShippedEvent[];
  links?: ChainLink[];
}

export interface EventBatchResponse {
  batchId: string;
  received: number;
  accepted: number;
  duplicates: number;
  rejected: {eventId: string; code: string; message: string}[];
  warnings?: Warning[];
}

export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'ENDPOINT_NOT_REGISTERED'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'INTERNAL'
  | 'UNAVAILABLE';

export interface ErrorBody {
  error: {code: ErrorCode; message: string; requestId?: string; retryAfterSeconds?: number};
}

export interface RouteTypes {
  register: {request: RegisterRequest; response: RegisterResponse};
  checkin: {request: CheckinRequest; response: CheckinResponse};
  eventBatch: {request: EventBatchRequest; response: EventBatchResponse};
  enforce: {request: EnforceRequest; response: EnforceResponse};
  holdWait: {request: HoldWaitRequest; response: HoldWaitResponse};
}

export type RequestOf<R extends RouteName> = RouteTypes[R]['request'];
export type ResponseOf<R extends RouteName> = RouteTypes[R]['response'];

/**
 * Headers, per host:
 * - every request: `content-type: application/json`, `user-agent: thoth/<version> (<platform>; <arch>)`,
 *   `x-thoth-request-id: <uuid>`;
 * - enforcer: `authorization: Bearer <API key>` (THOTH_API_KEY_FILE / THOTH_API_KEY / --api-key);
 * - govapi: `authorization: Bearer <THOTH_GOVAPI_BEARER_TOKEN, else the API key>` and, when
 *   THOTH_GOVAPI_API_KEY is set, `x-api-key: <it>`.
 */
export const REQUEST_ID_HEADER = 'x-thoth-request-id';
export const API_KEY_HEADER = 'x-api-key';
