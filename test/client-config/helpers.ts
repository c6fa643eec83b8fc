import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

import {ADAPTERS, type ClientId} from '../../src/client-config/clients/index.js';
import {parseConfigDocument} from '../../src/client-config/document.js';
import type {WrapSettings} from '../../src/client-config/entry-edit.js';
import {planChange, type FilePlan, type PlanRequest} from '../../src/client-config/plan.js';
import {loadValidator} from '../../src/util/validators.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/configs/', import.meta.url));

/** A launcher that does not depend on where the tests run, for golden files. */
export const FIXED_LAUNCHER = {command: '/usr/local/bin/node', prefix: ['/opt/thoth/lib/node_modules/thoth-mcp/bin/run.js']};

export function settings(overrides: Partial<WrapSettings> = {}): WrapSettings {
  return {launcher: FIXED_LAUNCHER, intentMap: {}, env: {}, ...overrides};
}

export function fixture(relative: string): Buffer {
  return readFileSync(`${FIXTURES}${relative}`);
}

/** Plans a wrap or unwrap of `bytes` as `client` would read them. */
export async function plan(client: ClientId, bytes: Uint8Array, request: PlanRequest, file = 'config.json'): Promise<FilePlan> {
  const adapter = ADAPTERS[client];
  const document = parseConfigDocument(file, bytes, {jsonc: adapter.jsonc});
  return planChange(document, adapter, await loadValidator(adapter.schema), request);
}

export async function wrap(client: ClientId, bytes: Uint8Array, wrapSettings: WrapSettings = settings()): Promise<FilePlan> {
  return plan(client, bytes, {action: 'wrap', settings: wrapSettings});
}

export async function unwrap(client: ClientId, bytes: Uint8Array): Promise<FilePlan> {
  return plan(client, bytes, {action: 'unwrap'});
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}
