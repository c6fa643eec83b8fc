import {LargeNumber} from '../proxy/json-rpc.js';

/**
 * Secrets never reach the audit log. Two complementary nets:
 * - by key: the value of any property whose name looks like a credential (password, token,
 *   api_key, authorization, cookie, private_key, client_secret...) is replaced entirely;
 * - by shape: substrings that match well-known token formats are replaced wherever they appear
 *   (private key blocks, JWTs, bearer tokens, AWS access keys, provider API keys, URL passwords,
 *   `password=...` pairs), in structured values and in raw (possibly truncated) JSON text.
 * Replacements read `[REDACTED:<kind>]` so that a reader knows what was there.
 */

export interface Redacted<T> {
  value: T;
  /** How many values or substrings were replaced. */
  count: number;
  /** The value holds integers beyond 2^53 (LargeNumber): serialise it with stringifyJson. */
  largeNumbers?: boolean;
}

const NORMALISE = /[^a-z0-9]/g;
/** Property names (lower-cased, punctuation removed) whose values are secrets. */
const SENSITIVE_KEY = /(?:passw(?:or)?d|passwd|passphrase|^pwd$|^pass$|secret|token|apikey|^key$|privatekey|accesskey|signingkey|encryptionkey|authorization|^auth$|authheader|cookie|credential|sessionid|^sid$|^jwt$|bearer|connectionstring|^dsn$)/;
/** Names that match the pattern above but hold no secret (token counts, tokenizer names). */
const NOT_SENSITIVE_KEY = /^(?:(?:max|min|num|total|input|output|prompt|completion|cached|reasoning)tokens?|tokens?(?:count|limit|used|type|usage)|tokens)$|tokenizer|^keyid$|^publickey$/;

export function isSensitiveKey(name: string): boolean {
  const key = name.toLowerCase().replace(NORMALISE, '');
  if (key === '' || NOT_SENSITIVE_KEY.test(key)) return false;
  return SENSITIVE_KEY.test(key);
}

interface TokenRule {
  kind: string;
  pattern: RegExp;
  /** Keeps a prefix of the match (for example the `Bearer ` scheme or the `password=` name). */
  keep?: (match: RegExpExecArray) => string;
}

// Order matters: whole private-key blocks first, then the most specific formats.
const TOKEN_RULES: TokenRule[] = [
  {kind: 'private-key', pattern: /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|(?=")|$)/g},
  {kind: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g},
  {kind: 'bearer', pattern: /\b([Bb]earer\s+)(?=[A-Za-z0-9._~+/-]*[0-9._~+/-])[A-Za-z0-9._~+/-]{16,}=*/g, keep: (m) => m[1]!},
  {kind: 'aws-access-key', pattern: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b/g},
  {
    kind: 'aws-secret-key',
    pattern: /(aws_?secret_?(?:access_?)?key|secret_?access_?key)(\\?["']?\s*[:=]\s*\\?["']?)([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
    keep: (m) => m[1]! + m[2]!,
  },
  {kind: 'api-key', pattern: /\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g},
  {kind: 'api-key', pattern: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}/g},
  {kind: 'api-key', pattern: /\bglpat-[A-Za-z0-9_-]{20,}/g},
  {kind: 'api-key', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g},
  {kind: 'api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}/g},
  {kind: 'api-key', pattern: /\b(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{16,}/g},
  {kind: 'api-key', pattern: /\bnpm_[A-Za-z0-9]{36}\b/g},
  {kind: 'api-key', pattern: /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g},
  {kind: 'api-key', pattern: /\bhf_[A-Za-z0-9]{30,}\b/g},
  {kind: 'url-password', pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@"'\\]+:)([^/\s@"'\\]+)(?=@)/gi, keep: (m) => m[1]!},
  {
    // name=value or "name": "value" pairs in free text, query strings, env dumps, headers.
    kind: 'secret',
    pattern:
      /\b((?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|id[_-]?token|client[_-]?secret|secret[_-]?key|secret|password|passwd|pwd|token|x-api-key|authorization)\\?["']?\s*[:=]\s*\\?["']?)(?!\[REDACTED)([^\s"'\\&,;}{]{3,})/gi,
    keep: (m) => m[1]!,
  },
];

/**
 * A cheap test that lets ordinary text skip every rule: it matches wherever a token shape or a
 * credential-like property name (SENSITIVE_KEY) could start.
 */
const TRIGGER = /-----BEGIN|eyJ|earer|A3T|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|sk-|sk_|rk_|gh[pousr]_|github_pat_|glpat-|xox|AIza|npm_|SG\.|hf_|:\/\/|key|token|secret|pass|pwd|auth|cookie|credential|session|sid|jwt|dsn|connection/i;

/** False when no rule (by shape or by property name) can possibly apply to this text. */
export function mayHoldSecrets(text: string): boolean {
  return TRIGGER.test(text);
}

/**
 * The part of TRIGGER that the token rules need (the rest is there for property names): every
 * TOKEN_RULES match contains one of these literals, case aside. Per rule: `-----BEGIN`; `eyJ`;
 * `earer`; the AWS key prefixes; `secret` (aws-secret-key); `sk-`; `gh?_`/`github_pat_`;
 * `glpat-`; `xox`; `AIza`; `sk_`/`rk_`; `npm_`; `SG.`; `hf_`; `://` (url-password); and
 * `key`/`token`/`secret`/`pass`/`pwd`/`auth` (every name of the `secret` pair rule contains one).
 * Decision reasons and traces ("1/3 sessions") then skip the rules, which are most of the cost.
 */
const TEXT_TRIGGER = /-----BEGIN|eyJ|earer|A3T|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|sk-|sk_|rk_|gh[pousr]_|github_pat_|glpat-|xox|AIza|npm_|SG\.|hf_|:\/\/|key|token|secret|pass|pwd|auth/i;

/** Replaces every token-shaped substring. */
export function redactText(text: string): Redacted<string> {
  if (!TEXT_TRIGGER.test(text)) return {value: text, count: 0};
  return applyTokenRules(text);
}

/** The token rules without the pre-filter (redactText must always agree with it: tested). */
export function applyTokenRules(text: string): Redacted<string> {
  let count = 0;
  let out = text;
  for (const rule of TOKEN_RULES) {
    rule.pattern.lastIndex = 0;
    out = out.replace(rule.pattern, (...args: unknown[]) => {
      const match = args.slice(0, -2) as unknown as RegExpExecArray;
      count++;
      return `${rule.keep ? rule.keep(match) : ''}[REDACTED:${rule.kind}]`;
    });
  }
  return {value: out, count};
}

/** A deep copy of a JSON value with secrets replaced (by key name and by shape). */
export function redactValue(value: unknown): Redacted<unknown> {
  const state = {count: 0, large: false};
  const result = walk(value, state, 0);
  return state.large ? {value: result, count: state.count, largeNumbers: true} : {value: result, count: state.count};
}

const MAX_DEPTH = 64;

function walk(value: unknown, state: {count: number; large: boolean}, depth: number): unknown {
  if (typeof value === 'string') {
    const redacted = redactText(value);
    state.count += redacted.count;
    return redacted.value;
  }
  if (value instanceof LargeNumber) state.large = true;
  if (value === null || typeof value !== 'object' || value instanceof LargeNumber) return value;
  if (depth >= MAX_DEPTH) {
    state.count++;
    return '[REDACTED:too-deep]';
  }
  if (Array.isArray(value)) return value.map((item) => walk(item, state, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (isSensitiveKey(key) && item !== null && typeof item !== 'number' && typeof item !== 'boolean' && item !== '') {
      state.count++;
      out[key] = '[REDACTED]';
    } else {
      out[key] = walk(item, state, depth + 1);
    }
  }
  return out;
}

/**
 * Redacts raw JSON text that may be cut short (too large to parse): `"name": "value"` pairs with
 * a credential-like name lose their value, then the token shapes are replaced.
 */
export function redactJsonText(text: string): Redacted<string> {
  let count = 0;
  const pairs = text.replace(/"((?:[^"\\]|\\.){1,200})"(\s*:\s*)"((?:[^"\\]|\\.)*)("|$)/g, (whole, key: string, colon: string, _value: string, close: string) => {
    if (!isSensitiveKey(key) || _value === '') return whole;
    count++;
    return `"${key}"${colon}"[REDACTED]${close}`;
  });
  const shaped = redactText(pairs);
  return {value: shaped.value, count: count + shaped.count};
}
