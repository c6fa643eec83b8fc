import {parseArgs} from 'node:util';

import {ThothError, errorMessage} from './errors.js';
import {ExitCode} from './exit-codes.js';
import {isEnforcementMode, type EnforcementMode} from './decision.js';
import {DEFAULT_MAX_MESSAGE_BYTES} from './limits.js';

/**
 * The flags of `thoth run`: a stable public API. One table feeds both the fast-path
 * parser (node:util, no oclif) and the oclif command that renders `thoth run --help`.
 */
export const RUN_FLAGS = {
  'agent-id': {type: 'string', description: 'Name of the governed server (wrap-config sets it to the config entry name).'},
  'tenant-id': {type: 'string', description: 'Tenant for governance scope and derived control-plane URLs (env THOTH_TENANT_ID).'},
  'enforcement-mode': {type: 'string', description: 'progressive | step_up | block | observe (audit only).'},
  'session-intent': {type: 'string', description: 'Why this session exists (e.g. phi_eligibility_check); overrides intent_map.json.'},
  'api-key': {type: 'string', description: 'Control-plane API key. Discouraged: visible to other users; use THOTH_API_KEY_FILE.'},
  policy: {
    type: 'string',
    description:
      'Policy file (JSON or JSONC); overrides THOTH_POLICY_FILE, but not a policy installed at the managed location or named by managed preferences.',
  },
  'no-filter-tools': {
    type: 'boolean',
    description: 'Keep tools that policy can never allow in tools/list results (env THOTH_FILTER_TOOLS=off; managed preferences win).',
  },
  'max-message-bytes': {type: 'string', description: `Largest JSON-RPC message relayed, in bytes (default ${DEFAULT_MAX_MESSAGE_BYTES}).`},
  'log-file': {type: 'string', description: "Also append thoth's own diagnostics to this file (env THOTH_LOG_FILE)."},
  'audit-dir': {
    type: 'string',
    description: 'Audit trail directory (env THOTH_AUDIT_DIR; default ~/.thoth/audit; managed preferences win).',
  },
  'shutdown-grace-ms': {
    type: 'string',
    description: 'How long the server gets after stdin closes, and again after SIGTERM (default 2000).',
  },
} as const satisfies Record<string, {type: 'string' | 'boolean'; description: string}>;

export interface RunOptions {
  agentId?: string;
  tenantId?: string;
  enforcementMode?: EnforcementMode;
  sessionIntent?: string;
  apiKey?: string;
  policy?: string;
  filterTools: boolean;
  maxMessageBytes: number;
  logFile?: string;
  auditDir?: string;
  shutdownGraceMs: number;
  /** The upstream command and its arguments, exactly as given after `--`. */
  command: string;
  args: string[];
}

const USAGE_HINT = 'Usage: thoth run [flags] -- <server command> [args...]';

export function parseRunArgs(argv: readonly string[]): RunOptions {
  const split = splitAtCommand(argv);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({values} = parseArgs({args: [...split.own], options: RUN_FLAGS, strict: true, allowPositionals: false}));
  } catch (error) {
    throw usage(errorMessage(error));
  }
  const [program, ...args] = split.command;
  if (program === undefined || program === '') throw usage('no server command given');

  const mode = values['enforcement-mode'];
  if (mode !== undefined && !isEnforcementMode(mode)) {
    throw usage(`--enforcement-mode must be one of progressive, step_up, block, observe (got "${String(mode)}")`);
  }
  const options: RunOptions = {
    filterTools: values['no-filter-tools'] !== true,
    maxMessageBytes: positiveInteger(values['max-message-bytes'], 'max-message-bytes', DEFAULT_MAX_MESSAGE_BYTES),
    shutdownGraceMs: positiveInteger(values['shutdown-grace-ms'], 'shutdown-grace-ms', 2000),
    command: program,
    args,
  };
  assignString(options, 'agentId', values['agent-id']);
  assignString(options, 'tenantId', values['tenant-id']);
  assignString(options, 'sessionIntent', values['session-intent']);
  assignString(options, 'apiKey', values['api-key']);
  assignString(options, 'policy', values['policy']);
  assignString(options, 'logFile', values['log-file']);
  assignString(options, 'auditDir', values['audit-dir']);
  if (mode !== undefined) options.enforcementMode = mode as EnforcementMode;
  return options;
}

/**
 * Everything after `--` is the server command, passed unchanged. Without `--`, the command
 * starts at the first argument that is neither a thoth flag nor a flag's value.
 */
function splitAtCommand(argv: readonly string[]): {own: string[]; command: string[]} {
  const separator = argv.indexOf('--');
  if (separator !== -1) return {own: argv.slice(0, separator), command: argv.slice(separator + 1)};
  let index = 0;
  while (index < argv.length) {
    const token = argv[index]!;
    if (!token.startsWith('-')) break;
    const name = token.replace(/^--?/, '').split('=')[0]!;
    const spec = (RUN_FLAGS as Record<string, {type: string}>)[name];
    index += spec?.type === 'string' && !token.includes('=') ? 2 : 1;
  }
  return {own: argv.slice(0, index), command: argv.slice(index)};
}

function assignString<K extends 'agentId' | 'tenantId' | 'sessionIntent' | 'apiKey' | 'policy' | 'logFile' | 'auditDir'>(
  options: RunOptions,
  key: K,
  value: string | boolean | undefined,
): void {
  if (typeof value === 'string' && value !== '') options[key] = value;
}

function positiveInteger(value: string | boolean | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw usage(`--${flag} must be a positive integer (got "${String(value)}")`);
  return parsed;
}

function usage(message: string): ThothError {
  return new ThothError('USAGE', `thoth run: ${message}`, {exitCode: ExitCode.USAGE, suggestions: [USAGE_HINT]});
}
