import {readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {Ajv} from 'ajv';
import {describe, expect, it} from 'vitest';

import {AUDIT_EVENT_TYPES, type AuditEvent} from '../../src/audit/events.js';
import {ocsfClassFor, toOcsf, OCSF_VERSION} from '../../src/audit/ocsf.js';
import type {StoredEvent} from '../../src/audit/reader.js';
import {REPO_ROOT} from '../helpers/cli.js';

interface Reference {
  ocsfVersion: string;
  enums: {severity_id: number[]; status_id: number[]};
  classes: Record<
    string,
    {
      class_uid: number;
      category_uid: number;
      required: string[];
      activity_id: number[];
      status_id?: number[];
      action_id?: number[];
      objects: Record<string, string>;
    }
  >;
  objects: Record<string, {required: string[]; objects?: Record<string, string>}>;
}

const reference = JSON.parse(await readFile(join(REPO_ROOT, 'fixtures', 'audit', 'ocsf', 'ocsf-1.3.0-required.json'), 'utf8')) as Reference;

function objectSchema(name: string): Record<string, unknown> {
  const object = reference.objects[name]!;
  const properties: Record<string, unknown> = {};
  for (const [attribute, type] of Object.entries(object.objects ?? {})) properties[attribute] = objectSchema(type);
  return {type: 'object', required: object.required, properties};
}

/** A JSON Schema for one class, built from the transcribed OCSF requirements. */
function classSchema(name: string): Record<string, unknown> {
  const spec = reference.classes[name]!;
  const properties: Record<string, unknown> = {
    class_uid: {const: spec.class_uid},
    category_uid: {const: spec.category_uid},
    activity_id: {enum: spec.activity_id},
    severity_id: {enum: reference.enums.severity_id},
    status_id: {enum: spec.status_id ?? reference.enums.status_id},
    time: {type: 'integer'},
    type_uid: {type: 'integer'},
    message: {type: 'string'},
    unmapped: {type: 'object'},
  };
  if (spec.action_id) properties['action_id'] = {enum: spec.action_id};
  for (const [attribute, type] of Object.entries(spec.objects)) properties[attribute] = objectSchema(type);
  return {type: 'object', required: spec.required, properties};
}

const CLASS_NAMES: Record<number, string> = {
  0: 'base_event',
  6003: 'api_activity',
  6002: 'application_lifecycle',
  3004: 'entity_management',
  2004: 'detection_finding',
};

function sample(type: string): StoredEvent {
  const event: AuditEvent = {
    eventId: '01a2010c-cf3c-74b3-bd5b-4ee1f274f401',
    type,
    timestamp: '2026-11-22T02:19:06.428Z',
    sourceType: type.startsWith('TOOL_CALL_') ? 'agent_tool_call' : 'thoth_proxy',
    agentId: 'filesystem',
    sessionId: 'session-1',
    mode: 'block',
    tenantId: 'acme',
    userId: 'ada@example.com',
    endpointId: 'ep-42',
    toolName: 'write_file',
    requestId: '7',
    decision: 'block',
    reason: 'outside the approved scope',
    ruleId: 'scope',
    approvalId: 'ap-1',
    pinSha256: 'a'.repeat(64),
    status: 'loaded',
  };
  if (type === 'TOOL_CALL_POST') Object.assign(event, {outcome: 'refused', durationMs: 4, error: {code: -32001, message: 'blocked'}});
  return {event, chain: '01a2010c-cf3c-74b2-ba5c-ca59daf3172a', seq: 3, file: 'x.jsonl'};
}

describe('OCSF 1.3.0 export', () => {
  const ajv = new Ajv({allErrors: true, strict: false});

  for (const type of [...AUDIT_EVENT_TYPES, 'SOMETHING_NEW']) {
    it(`${type} maps to ${CLASS_NAMES[ocsfClassFor(type).classUid]} with every required attribute`, () => {
      const ocsf = toOcsf(sample(type), {productVersion: '0.1.0'});
      const className = CLASS_NAMES[ocsf['class_uid'] as number]!;
      const validate = ajv.compile(classSchema(className));
      expect(validate(ocsf), JSON.stringify(validate.errors)).toBe(true);
      expect(ocsf['type_uid']).toBe((ocsf['class_uid'] as number) * 100 + (ocsf['activity_id'] as number));
      expect(ocsf['metadata']).toMatchObject({version: OCSF_VERSION, uid: sample(type).event.eventId, event_code: type});
      expect(ocsf['time']).toBe(Date.parse('2026-11-22T02:19:06.428Z'));
    });
  }

  it('targets the version the reference was transcribed from', () => {
    expect(reference.ocsfVersion).toBe(OCSF_VERSION);
  });

  it('the reference schemas reject an event missing a required attribute (the check can fail)', () => {
    const ocsf = toOcsf(sample('TOOL_CALL_PRE'), {productVersion: '0.1.0'});
    const validate = ajv.compile(classSchema('api_activity'));
    const {api: _api, ...withoutApi} = ocsf;
    expect(validate(withoutApi)).toBe(false);
    expect(validate({...ocsf, metadata: {version: '1.3.0'}})).toBe(false);
  });

  it('maps decisions and outcomes to status and severity', () => {
    const allowed = toOcsf(
      {...sample('TOOL_CALL_PRE'), event: {...sample('TOOL_CALL_PRE').event, decision: 'allow'}},
      {productVersion: '0'},
    );
    const blocked = toOcsf(sample('TOOL_CALL_PRE'), {productVersion: '0'});
    expect(allowed).toMatchObject({
      status_id: 1,
      severity_id: 1,
      api: {operation: 'write_file', service: {name: 'filesystem'}, request: {uid: '7'}},
    });
    expect(blocked).toMatchObject({status_id: 2, severity_id: 3, status_detail: 'outside the approved scope'});
    expect(toOcsf(sample('TOOL_CALL_POST'), {productVersion: '0'})).toMatchObject({duration: 4, api: {response: {code: -32001}}});
    expect(toOcsf(sample('PIN_CHANGED'), {productVersion: '0'})).toMatchObject({class_uid: 2004, severity_id: 4, action_id: 2});
    // A grant nobody is on record giving is a finding too.
    expect(toOcsf(sample('APPROVAL_UNVERIFIED'), {productVersion: '0'})).toMatchObject({
      class_uid: 2004,
      severity_id: 4,
      status_id: 2,
      finding_info: {title: 'Unrecorded approval ignored: write_file', types: ['MCP approval forgery']},
    });
    // A used grant let the call through.
    expect(toOcsf(sample('APPROVAL_USED'), {productVersion: '0'})).toMatchObject({
      class_uid: 6003,
      activity_name: 'Approval Used',
      status_id: 1,
    });
    expect(toOcsf(sample('SESSION_START'), {productVersion: '0'})).toMatchObject({
      class_uid: 6002,
      activity_id: 3,
      app: {name: 'filesystem', vendor_name: 'thoth'},
    });
    expect(toOcsf(sample('TOOL_CALL_PRE'), {productVersion: '0'})['actor']).toEqual({
      session: {uid: 'session-1'},
      user: {uid: 'ada@example.com', email_addr: 'ada@example.com'},
    });
  });
});
