import type {AuditEvent} from './events.js';
import type {StoredEvent} from './reader.js';

/**
 * OCSF 1.3.0 for SIEMs (Amazon Security Lake, Splunk...). Each thoth event maps to the class
 * that fits it best; the whole original event is kept under `unmapped.thoth`:
 *
 *   TOOL_CALL_PRE, TOOL_CALL_POST, APPROVAL_*   API Activity (6003), activity Other (99)
 *   MESSAGE_REFUSED                             API Activity (6003), activity Other (99), status Failure
 *   SESSION_START / SESSION_END / POLICY_LOADED Application Lifecycle (6002), Start / Stop / Update
 *   POLICY_LOAD_FAILED                          Application Lifecycle (6002), Update, status Failure
 *   PIN_RECORDED, PIN_ACCEPTED, other PIN_*     Entity Management (3004), Create / Update / Other
 *   PIN_CHANGED                                 Detection Finding (2004): a tool definition changed under the user
 *   APPROVAL_UNVERIFIED                         Detection Finding (2004): a grant nobody is on record giving (forged approvals.json)
 *   SETTING_OVERRIDE_REFUSED                    Detection Finding (2004): something tried to change a managed setting
 *   anything else                               Base Event (0), activity Other
 *
 * Required attributes come from the OCSF 1.3.0 class definitions (fixtures/audit/ocsf/).
 */
export const OCSF_VERSION = '1.3.0';

const SEVERITY: Record<number, string> = {
  0: 'Unknown',
  1: 'Informational',
  2: 'Low',
  3: 'Medium',
  4: 'High',
  5: 'Critical',
  6: 'Fatal',
  99: 'Other',
};
const STATUS: Record<number, string> = {0: 'Unknown', 1: 'Success', 2: 'Failure', 99: 'Other'};

interface ClassChoice {
  classUid: number;
  className: string;
  categoryUid: number;
  categoryName: string;
  activityId: number;
  activityName: string;
}

const API_ACTIVITY = {classUid: 6003, className: 'API Activity', categoryUid: 6, categoryName: 'Application Activity'};
const APP_LIFECYCLE = {classUid: 6002, className: 'Application Lifecycle', categoryUid: 6, categoryName: 'Application Activity'};
const ENTITY_MANAGEMENT = {classUid: 3004, className: 'Entity Management', categoryUid: 3, categoryName: 'Identity & Access Management'};
const DETECTION_FINDING = {classUid: 2004, className: 'Detection Finding', categoryUid: 2, categoryName: 'Findings'};
const BASE_EVENT = {classUid: 0, className: 'Base Event', categoryUid: 0, categoryName: 'Uncategorized'};

export function ocsfClassFor(type: string): ClassChoice {
  switch (type) {
    case 'TOOL_CALL_PRE':
      return {...API_ACTIVITY, activityId: 99, activityName: 'Tool Call Requested'};
    case 'TOOL_CALL_POST':
      return {...API_ACTIVITY, activityId: 99, activityName: 'Tool Call Completed'};
    case 'SESSION_START':
      return {...APP_LIFECYCLE, activityId: 3, activityName: 'Start'};
    case 'SESSION_END':
      return {...APP_LIFECYCLE, activityId: 4, activityName: 'Stop'};
    case 'POLICY_LOADED':
    case 'POLICY_LOAD_FAILED':
      return {...APP_LIFECYCLE, activityId: 8, activityName: 'Update'};
    case 'PIN_RECORDED':
      return {...ENTITY_MANAGEMENT, activityId: 1, activityName: 'Create'};
    case 'PIN_ACCEPTED':
      return {...ENTITY_MANAGEMENT, activityId: 3, activityName: 'Update'};
    case 'PIN_CHANGED':
    case 'APPROVAL_UNVERIFIED':
    case 'SETTING_OVERRIDE_REFUSED':
      return {...DETECTION_FINDING, activityId: 1, activityName: 'Create'};
    case 'MESSAGE_REFUSED':
      return {...API_ACTIVITY, activityId: 99, activityName: 'Message Refused'};
    default:
      if (type.startsWith('APPROVAL_')) return {...API_ACTIVITY, activityId: 99, activityName: titleCase(type)};
      if (type.startsWith('PIN_')) return {...ENTITY_MANAGEMENT, activityId: 99, activityName: titleCase(type)};
      return {...BASE_EVENT, activityId: 99, activityName: titleCase(type)};
  }
}

export interface OcsfOptions {
  /** thoth's version, for metadata.product.version. */
  productVersion: string;
}

export function toOcsf(stored: StoredEvent, options: OcsfOptions): Record<string, unknown> {
  const event = stored.event;
  const choice = ocsfClassFor(event.type);
  const severityId = severityOf(event);
  const statusId = statusOf(event);
  const out: Record<string, unknown> = {
    class_uid: choice.classUid,
    class_name: choice.className,
    category_uid: choice.categoryUid,
    category_name: choice.categoryName,
    activity_id: choice.activityId,
    activity_name: choice.activityName,
    type_uid: choice.classUid * 100 + choice.activityId,
    type_name: `${choice.className}: ${choice.activityName}`,
    time: Date.parse(event.timestamp),
    severity_id: severityId,
    severity: SEVERITY[severityId],
    status_id: statusId,
    status: STATUS[statusId],
    message: messageOf(event),
    metadata: metadata(stored, options),
    actor: actor(event),
    src_endpoint: typeof event.endpointId === 'string' ? {uid: event.endpointId} : {name: 'unknown'},
    unmapped: {thoth: event, audit: {chain: stored.chain, seq: stored.seq, file: stored.file}},
  };
  if (typeof event['reason'] === 'string') out['status_detail'] = event['reason'];
  if (typeof event['durationMs'] === 'number') out['duration'] = event['durationMs'];
  switch (choice.classUid) {
    case API_ACTIVITY.classUid:
      out['api'] = api(event);
      break;
    case APP_LIFECYCLE.classUid:
      out['app'] = {name: event.agentId, uid: event.sessionId, vendor_name: 'thoth', version: options.productVersion};
      break;
    case ENTITY_MANAGEMENT.classUid:
      out['entity'] = toolEntity(event);
      break;
    case DETECTION_FINDING.classUid:
      out['action_id'] = 2;
      out['action'] = 'Denied';
      out['finding_info'] = findingInfo(event);
      out['resources'] = [{name: String(event['toolName'] ?? 'unknown'), type: 'MCP tool', data: toolEntity(event)['data']}];
      break;
    default:
      break;
  }
  return out;
}

function metadata(stored: StoredEvent, options: OcsfOptions): Record<string, unknown> {
  const event = stored.event;
  const meta: Record<string, unknown> = {
    version: OCSF_VERSION,
    product: {name: 'thoth', vendor_name: 'thoth', version: options.productVersion},
    uid: event.eventId,
    event_code: event.type,
    log_name: 'thoth-audit',
    correlation_uid: event.sessionId,
    sequence: stored.seq,
    original_time: event.timestamp,
  };
  if (typeof event.tenantId === 'string') meta['tenant_uid'] = event.tenantId;
  return meta;
}

function actor(event: AuditEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {session: {uid: event.sessionId}};
  if (typeof event.userId === 'string') {
    out['user'] = event.userId.includes('@') ? {uid: event.userId, email_addr: event.userId} : {uid: event.userId, name: event.userId};
  }
  const client = event['client'] as {name?: unknown} | undefined;
  if (client && typeof client.name === 'string') out['app_name'] = client.name;
  return out;
}

function api(event: AuditEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    operation: typeof event['toolName'] === 'string' ? event['toolName'] : event.type,
    service: {name: event.agentId},
  };
  if (typeof event['requestId'] === 'string') out['request'] = {uid: event['requestId']};
  const error = event['error'] as {code?: unknown; message?: unknown} | undefined;
  if (error && typeof error.code === 'number') {
    out['response'] = {code: error.code, error: String(error.code), error_message: typeof error.message === 'string' ? error.message : ''};
  } else if (event.type === 'TOOL_CALL_POST') {
    out['response'] = {message: String(event['outcome'] ?? '')};
  }
  return out;
}

function toolEntity(event: AuditEvent): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) if (/sha256|hash|pin|previous/i.test(key)) data[key] = value;
  const out: Record<string, unknown> = {name: String(event['toolName'] ?? 'unknown'), type: 'MCP tool definition', data};
  const uid = event['pinSha256'] ?? event['definitionSha256'];
  if (typeof uid === 'string') out['uid'] = uid;
  return out;
}

function findingInfo(event: AuditEvent): Record<string, unknown> {
  const tool = String(event['toolName'] ?? 'unknown tool');
  if (event.type === 'SETTING_OVERRIDE_REFUSED') {
    return {
      uid: event.eventId,
      title: `Attempt to override a managed setting: ${String(event['setting'] ?? 'unknown setting')}`,
      desc: 'thoth run was started with a flag or environment variable that tried to change a setting the administrator set in managed preferences; the managed value was applied.',
      types: ['Managed setting override attempt'],
    };
  }
  if (event.type === 'APPROVAL_UNVERIFIED') {
    return {
      uid: event.eventId,
      title: `Unrecorded approval ignored: ${tool}`,
      desc: `approvals.json claims approval ${String(event['approvalId'] ?? '?')} was granted, but the audit trail holds no matching sealed APPROVAL_GRANTED (${String(event['why'] ?? '')}); the call stayed stepped up.`,
      types: ['MCP approval forgery'],
    };
  }
  return {
    uid: event.eventId,
    title: `MCP tool definition changed: ${tool}`,
    desc: 'A server changed the definition of a tool after it was pinned; calls to it are refused until someone accepts the change (thoth pins accept).',
    types: ['MCP tool definition change'],
  };
}

function severityOf(event: AuditEvent): number {
  if (event.type === 'PIN_CHANGED' || event.type === 'APPROVAL_UNVERIFIED') return 4;
  if (event.type === 'MESSAGE_REFUSED') return 3;
  if (event.type === 'PIN_CHANGED') return 4;
  if (event.type === 'SETTING_OVERRIDE_REFUSED') return 3;
  if (event['decision'] === 'block') return 3;
  if (event['decision'] === 'step_up' || event.type === 'APPROVAL_DENIED') return 2;
  return 1;
}

function statusOf(event: AuditEvent): number {
  switch (event.type) {
    case 'TOOL_CALL_PRE':
      return event['decision'] === 'allow' ? 1 : 2;
    case 'TOOL_CALL_POST':
      return event['outcome'] === 'result' && event['isError'] !== true ? 1 : event['outcome'] === 'cancelled' ? 99 : 2;
    case 'APPROVAL_GRANTED':
    case 'APPROVAL_USED':
    case 'PIN_ACCEPTED':
    case 'PIN_RECORDED':
    case 'SESSION_START':
    case 'SESSION_END':
      return 1;
    case 'APPROVAL_DENIED':
    case 'APPROVAL_EXPIRED':
    case 'APPROVAL_UNVERIFIED':
    case 'POLICY_LOAD_FAILED':
    case 'MESSAGE_REFUSED':
    case 'SETTING_OVERRIDE_REFUSED':
      return 2;
    case 'POLICY_LOADED':
      return event['status'] === 'invalid' || event['status'] === 'error' ? 2 : 1;
    default:
      return 99;
  }
}

function messageOf(event: AuditEvent): string {
  const tool = typeof event['toolName'] === 'string' ? ` tool "${event['toolName']}"` : '';
  const decision = typeof event['decision'] === 'string' ? `: ${event['decision']}` : '';
  const reason = typeof event['reason'] === 'string' ? ` (${event['reason']})` : '';
  return `thoth ${event.type}${tool} on ${event.agentId}${decision}${reason}`;
}

function titleCase(type: string): string {
  return type
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}
