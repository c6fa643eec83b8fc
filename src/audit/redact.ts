import {LargeNumber} from '../core/json-rpc.js';

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
const SENSITIVE_KEY =
  /(?:passw(?:or)?d|passwd|passphrase|pwd$|^pass$|secret|token|apikey|^key$|privatekey|accesskey|signingkey|encryptionkey|authorization|^auth$|authheader|cookie|credential|sessionid|^sid$|^jwt$|bearer|connectionstring|^dsn$)/;
/**
 * Names that match the pattern above but hold no secret: token counts, tokenizer names, and names
 * of where a secret is kept rather than the secret (password_file, token_url, secret_path:
 * `--password-file /run/secrets/db` is worth keeping in the trail).
 */
const NOT_SENSITIVE_KEY =
  /^(?:(?:max|min|num|total|input|output|prompt|completion|cached|reasoning)tokens?|tokens?(?:count|limit|used|type|usage)|tokens)$|tokenizer|^keyid$|^publickey$|secretar(?:y|ies)|^oldpwd$|(?:file|filename|path|dir|url|uri|endpoint)$/;

/** `DB_PASS`, `smtp-pass`, `dbPass`: `pass` as the last word of a name (not `bypass`, `compass`). */
const PASS_WORD = /(?:[_.\-\s]pass|[a-z0-9]Pass|[_.\-\s]PASS)$/;

/** Names repeat (every object of an array, every line of a dump): remembered, up to a bound. */
const sensitiveKeyCache = new Map<string, boolean>();

export function isSensitiveKey(name: string): boolean {
  const known = sensitiveKeyCache.get(name);
  if (known !== undefined) return known;
  const key = name.toLowerCase().replace(NORMALISE, '');
  const sensitive = key !== '' && !NOT_SENSITIVE_KEY.test(key) && (SENSITIVE_KEY.test(key) || PASS_WORD.test(name));
  if (sensitiveKeyCache.size >= 4096) sensitiveKeyCache.clear();
  if (name.length <= 128) sensitiveKeyCache.set(name, sensitive);
  return sensitive;
}

interface TokenRule {
  kind: string | ((match: RegExpExecArray) => string);
  pattern: RegExp;
  /** Keeps a prefix of the match (for example the `Bearer ` scheme or the `password=` name). */
  keep?: (match: RegExpExecArray) => string;
  /** A second look where a pattern alone would take too much: false leaves the match as it is. */
  accept?: (match: RegExpExecArray, input: string) => boolean;
  /**
   * After a match is not accepted, where (relative to it) to look again: by default after it. A
   * rejected match must not hide a secret inside it (`tokens=5:password=x`).
   */
  retryAt?: (match: RegExpExecArray) => number;
  /** Where the replaced text ends (absolute), when the pattern bounds what it reads. */
  end?: (match: RegExpExecArray, input: string) => number;
  /** Literals (case aside) one of which every match contains: a text with none skips the rule, after one fast scan. */
  hints: readonly string[];
}

/** HTTP authorization schemes: the scheme is kept, what follows it is the credential. */
const AUTH_SCHEMES = 'basic|bearer|digest|token|negotiate|ntlm|apikey|api-key|sso-key|aws4-hmac-sha256|splunk|ssws|otoken';
/** Flags whose value (`--flag VALUE`, `--flag=VALUE`, `"--flag", "VALUE"` in an argv array) is a secret. */
const SECRET_FLAGS =
  'password|passwd|pass|pwd|passphrase|token|auth-token|access-token|api-token|api-key|apikey|secret|client-secret|secret-key|secret-access-key|storepass|keypass|srcstorepass|deststorepass';
/** The separator between a flag and its value: `=`, spaces, or the `", "` between two argv array items in JSON text. */
const FLAG_VALUE_SEPARATOR = String.raw`(?:=|\s+|\\?["']\s*,\s*\\?["'])`;
/** Words that occur in every credential-like name the `name=value` rule looks for (isSensitiveKey decides). */
const NAME_KEYWORDS = String.raw`pass|pwd|secret|token|key|auth|cookie|credential|session|\bsid\b|jwt|bearer|connection|dsn`;

/** Not in the middle of a word (`x--password` is not the flag): checked in JS, so that the pattern can start with its literal. */
const startsWord = (m: RegExpExecArray, input: string): boolean => m.index === 0 || !/[A-Za-z0-9_-]/.test(input[m.index - 1]!);

// Order matters: whole private-key blocks first, then the most specific formats. `hints`: the
// rule can only match text that holds one of these (lower-cased); without any, it is skipped.
const RULES: TokenRule[] = [
  {
    kind: 'private-key',
    pattern: /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|(?=")|$)/g,
    hints: ['-----begin'],
  },
  {kind: 'private-key', pattern: /\bAGE-SECRET-KEY-1[0-9A-Z]{50,}/g, hints: ['age-secret-key-1']},
  {
    // `Authorization: Basic dXNlcjpwYXNz` (in headers, curl -H, JSON in a string): the name and
    // the scheme stay, the credential goes, whatever the scheme.
    kind: (m) => (m[2]?.toLowerCase() === 'basic' ? 'basic-auth' : m[2]?.toLowerCase() === 'bearer' ? 'bearer' : 'authorization'),
    // No `\b` nor optional `Proxy-` before the name: a pattern that starts with its literal is
    // scanned for fast (`Proxy-` stays in place anyway).
    pattern: new RegExp(String.raw`(authorization\\?["']?\s*[:=]\s*\\?["']?)(?:(${AUTH_SCHEMES})(\s+))?(?!\[REDACTED)([^\s"'\\,]+)`, 'gi'),
    keep: (m) => m[1]! + (m[2] === undefined ? '' : m[2] + m[3]!),
    hints: ['authorization'],
  },
  {
    // JWS (header.payload.signature, the signature possibly empty or cut off) and JWE (five
    // parts). The header is base64url JSON, so it starts `ey` (`{"`, `{ "`) or `ew` (`{` and a
    // line break); it must decode to a JOSE header (with `alg`), or the payload must look like
    // JSON as well: `eyeball.example.com` stays. Bounded header: a long base64url run costs one pass.
    kind: 'jwt',
    pattern: /\be[wy][A-Za-z0-9_-]{10,8192}={0,2}\.[A-Za-z0-9_=-]*(?:\.[A-Za-z0-9_=-]*){0,3}/g,
    accept: (m) => looksLikeJwt(m[0]),
    // A real token may follow the first dot of a lookalike.
    retryAt: (m) => m[0].indexOf('.') + 1,
    hints: ['ey', 'ew'],
  },
  {
    kind: 'bearer',
    pattern: /\b([Bb]earer\s+)(?=[A-Za-z0-9._~+/-]*[0-9._~+/-])[A-Za-z0-9._~+/-]{16,}=*/g,
    keep: (m) => m[1]!,
    hints: ['bearer'],
  },
  {
    // `Basic <base64 of user:password>` outside a header line: only when it decodes to text with a
    // colon, so that "Basic usage" and "Basic authentication" stay.
    kind: 'basic-auth',
    pattern: /\b([Bb]asic\s+|BASIC\s+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/g,
    keep: (m) => m[1]!,
    accept: (m) => isBasicCredential(m[2]!),
    hints: ['basic'],
  },
  {
    kind: 'aws-access-key',
    pattern: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b/g,
    hints: ['a3t', 'akia', 'asia', 'abia', 'acca', 'agpa', 'aida', 'aroa', 'aipa', 'anpa', 'anva', 'apka'],
  },
  {
    // `aws_secret_access_key = X`, `"aws_secret_access_key": "X"`, and the whitespace of
    // `aws configure set aws_secret_access_key X` or an ~/.aws/credentials dump.
    kind: 'aws-secret-key',
    pattern: /(aws_?secret_?(?:access_?)?key|secret_?access_?key)(\\?["']?\s*[:=]\s*\\?["']?|\s+)([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
    keep: (m) => m[1]! + m[2]!,
    hints: ['secret'],
  },
  {kind: 'api-key', pattern: /\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g, hints: ['sk-']},
  {
    kind: 'api-key',
    pattern: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}/g,
    hints: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
  },
  {kind: 'api-key', pattern: /\bglpat-[A-Za-z0-9_-]{20,}/g, hints: ['glpat-']},
  // Slack: bot/user/app-level/refresh tokens (xoxb-, xoxp-, xapp-1-, xoxe.xoxp-1-, xoxe-1-).
  {kind: 'api-key', pattern: /\bxox[abposre](?:\.xox[a-z])?-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}/g, hints: ['xox', 'xapp-']},
  {kind: 'api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}/g, hints: ['aiza']},
  {kind: 'api-key', pattern: /\b(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{16,}/g, hints: ['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_']},
  {kind: 'api-key', pattern: /\bnpm_[A-Za-z0-9]{36}\b/g, hints: ['npm_']},
  {kind: 'api-key', pattern: /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g, hints: ['sg.']},
  {kind: 'api-key', pattern: /\bhf_[A-Za-z0-9]{30,}\b/g, hints: ['hf_']},
  // PyPI upload tokens (a macaroon), Stripe/Svix webhook signing secrets, DigitalOcean tokens.
  {kind: 'api-key', pattern: /\bpypi-[A-Za-z0-9_-]{50,}/g, hints: ['pypi-']},
  {kind: 'api-key', pattern: /\bwhsec_[A-Za-z0-9+/=]{20,}/g, hints: ['whsec_']},
  {kind: 'api-key', pattern: /\bdo[opr]_v1_[a-f0-9]{64}\b/g, hints: ['_v1_']},
  {kind: 'url-password', pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@"'\\]+:)([^/\s@"'\\]+)(?=@)/gi, keep: (m) => m[1]!, hints: ['://']},
  {
    // curl `-u user:password`, `-uuser:password`, `--user`/`--proxy-user user:password`: the user
    // stays. Not `-u 1000:1000` (docker's uid:gid) and not a URL.
    kind: 'password',
    pattern: new RegExp(
      String.raw`(-(?:u|-user|-proxy-user)(?:=|\s*|\\?["']\s*,\s*\\?["'])\\?["']?[^\s:"'\\@/]+:)(?!//)(?!\[REDACTED)([^\s"'\\]+)`,
      'g',
    ),
    keep: (m) => m[1]!,
    accept: (m, input) =>
      startsWord(m, input) && (!/^\D*\d+:$/.test(m[1]!.replace(/^(?:-u|--user|--proxy-user)\W*/, '')) || !/^\d+$/.test(m[2]!)),
    hints: ['-u'],
  },
  {
    // mysql/mariadb take the password glued to -p (`-pSECRET`, `-p'SECRET'`; `-p SECRET` prompts
    // and names a database). A bare `-p X` elsewhere is a port (ssh, psql, docker run) or a flag
    // without a value (mkdir -p, cp -p): left alone.
    kind: 'password',
    pattern:
      /\b((?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mariadb|mariadb-dump|mariadb-admin)\b[^\n]{0,200}?(?<=[\s"'])-p)(?![\s\\]|\[REDACTED|["'][\s"'])('[^'\n]*'|"[^"\n]*"|[^\s"'\\]+)/g,
    keep: (m) => m[1]!,
    hints: ['mysql', 'mariadb'],
  },
  {
    // Commands whose short flag takes a password as the next word: sshpass -p, docker/podman/
    // nerdctl login -p, redis-cli -a, ldapsearch (and ldapmodify…) -w.
    kind: 'password',
    pattern:
      /\b((?:sshpass\b[^\n]{0,100}?(?<=[\s"'])-p|(?:docker|podman|nerdctl)\\?["']?(?:\s+|\\?["']?,\s*\\?["']?)login\b[^\n]{0,100}?(?<=[\s"'])-p|redis-cli\b[^\n]{0,100}?(?<=[\s"'])-a|ldap(?:search|modify|add|delete|passwd|whoami|compare)\b[^\n]{0,100}?(?<=[\s"'])-w)(?:\s+|\\?["']\s*,\s*\\?["']))(?!\[REDACTED)('[^'\n]*'|\\?"[^"\n\\]*\\?"|[^\s"'\\]+)/g,
    keep: (m) => m[1]!,
    hints: ['sshpass', 'login', 'redis-cli', 'ldap'],
  },
  // openssl -passin/-passout pass:SECRET (env:VAR and file:PATH name where it is, not the secret).
  {
    kind: 'password',
    pattern: /(-pass(?:in|out)?(?:\s+|\\?["']\s*,\s*\\?["'])pass:)(?!\[REDACTED)([^\s"'\\]+)/g,
    keep: (m) => m[1]!,
    accept: startsWord,
    hints: ['-pass'],
  },
  {
    // `--password X`, `--token=X`, `"--api-key", "X"` in argv arrays (JSON text), keytool -storepass X.
    kind: 'secret',
    pattern: new RegExp(
      String.raw`(--?(?:${SECRET_FLAGS})${FLAG_VALUE_SEPARATOR})(?![^\s"'\\]*\[REDACTED)(?!-)(\\?"[^"\n\\]*\\?"|'[^'\n]*'|[^\s"'\\]+)`,
      'gi',
    ),
    keep: (m) => m[1]!,
    accept: startsWord,
    hints: ['pass', 'pwd', 'token', 'key', 'secret'],
  },
  {
    // name=value or "name": "value" pairs in free text, query strings, env dumps, headers and
    // config files: any name that isSensitiveKey accepts (PGPASSWORD=, MYSQL_PWD=, db_password:,
    // client_secret=, x-api-key:), not max_tokens or token_count. The match starts at the keyword;
    // the rest of the name is read backwards from it (bounded), which keeps the scan linear.
    kind: 'secret',
    pattern: new RegExp(
      String.raw`((?:${NAME_KEYWORDS})[A-Za-z0-9_.-]{0,64})(\\?["']?\s*[:=]\s*\\?["']?)(?!\[REDACTED)(?![A-Za-z0-9-]+\s+\[REDACTED)([^\s"'\\&,;}{]{1,256})`,
      'gi',
    ),
    keep: (m) => m[1]! + m[2]!,
    // The value is read 256 characters at a time so that a rejected name costs little, and the
    // look goes on after the name (the value may hold the next pair); an accepted value is
    // replaced up to its real end.
    retryAt: (m) => m[1]!.length + m[2]!.length,
    end: (m, input) => endOfValue(input, m.index + m[0].length),
    accept: (m, input) => {
      const name = nameBefore(input, m.index) + m[1]!;
      // The shell's working directory in an environment dump is not a password.
      if (name === 'PWD' && m[3]!.startsWith('/')) return false;
      return isSensitiveKey(name);
    },
    hints: [
      'pass',
      'pwd',
      'secret',
      'token',
      'key',
      'auth',
      'cookie',
      'credential',
      'session',
      'sid',
      'jwt',
      'bearer',
      'connection',
      'dsn',
    ],
  },
];

/** Each rule with its hints as one case-insensitive pattern: a test of it is a fast scan. */
const TOKEN_RULES = RULES.map((rule) => ({
  ...rule,
  hintPattern: new RegExp(rule.hints.map((hint) => hint.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('|'), 'i'),
}));

const VALUE_RUN = /[^\s"'\\&,;}{]*/y;

function endOfValue(input: string, from: number): number {
  VALUE_RUN.lastIndex = from;
  VALUE_RUN.exec(input);
  return VALUE_RUN.lastIndex;
}

/** [A-Za-z0-9_.-] */
function isNameChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95 || code === 46 || code === 45
  );
}

/** The name characters right before `offset` (at most 64): the start of a `name=value` name. */
function nameBefore(input: string, offset: number): string {
  let start = offset;
  while (start > 0 && offset - start < 64 && isNameChar(input.charCodeAt(start - 1))) start--;
  return input.slice(start, offset);
}

const BASE64_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const BASE64_VALUE = new Int16Array(128).fill(-1);
for (let index = 0; index < 64; index++) BASE64_VALUE[BASE64_DIGITS.charCodeAt(index)] = index;
BASE64_VALUE['+'.charCodeAt(0)] = BASE64_VALUE['-'.charCodeAt(0)] = 62;
BASE64_VALUE['/'.charCodeAt(0)] = BASE64_VALUE['_'.charCodeAt(0)] = 63;

/**
 * The text that base64 or base64url `data` encodes, when it is printable ASCII (the credentials
 * and JOSE headers the rules look for); undefined for binary (random base64, an image). Decodes
 * by hand: Buffer.from costs more than the rest of a rule for the short strings seen here.
 */
function decodeBase64Text(data: string): string | undefined {
  let text = '';
  let bits = 0;
  let collected = 0;
  for (let index = 0; index < data.length; index++) {
    const code = data.charCodeAt(index);
    if (code === 61) break; // '=' padding
    const value = code < 128 ? BASE64_VALUE[code]! : -1;
    if (value < 0) return undefined;
    bits = (bits << 6) | value;
    collected += 6;
    if (collected >= 8) {
      collected -= 8;
      const byte = (bits >> collected) & 0xff;
      // Printable ASCII, tab, line breaks.
      if (!((byte >= 0x20 && byte < 0x7f) || byte === 9 || byte === 10 || byte === 13)) return undefined;
      text += String.fromCharCode(byte);
    }
  }
  return text;
}

function isBasicCredential(base64: string): boolean {
  const text = decodeBase64Text(base64);
  return text !== undefined && text.includes(':');
}

function looksLikeJwt(token: string): boolean {
  const [header = '', payload = ''] = token.split('.');
  if (header.startsWith('eyJ') && /^e[wy]/.test(payload)) return true;
  const text = decodeBase64Text(header);
  if (text === undefined) return false;
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as {alg?: unknown}).alg === 'string';
  } catch {
    return false;
  }
}

/**
 * The part of TRIGGER that the token rules need (the rest is there for property names): every
 * TOKEN_RULES match contains one of these, case aside. Per rule: `-----BEGIN`; `secret`/`key`
 * (AGE, aws-secret-key); `auth` (Authorization); `e[wy]` and ten base64url characters (JWT);
 * `earer`; `basic`; the AWS key prefixes; `sk-`; `gh?_`/`github_pat_`; `glpat-`; `xox`/`xapp-`;
 * `AIza`; `sk_`/`rk_`; `npm_`; `SG.`; `hf_`; `pypi-`; `whsec_`; `_v1_`; `://` (url-password);
 * `-u`/`--user` before a value (curl); `mysql`/`mariadb`; `redis-cli`/`ldap`/`login` (the short
 * flags of redis-cli, ldapsearch and docker login); `pass` (sshpass, openssl -passin, most
 * flags); `pwd`/`token`/`key`/`secret`/`auth` (the other flags); and every NAME_KEYWORDS word
 * (the `name=value` rule). Decision reasons and traces ("1/3 sessions") then skip the rules, which
 * are most of the cost.
 */
const TEXT_TRIGGER_SOURCE = String.raw`-----BEGIN|e[wy][A-Za-z0-9_-]{10}|earer|basic|A3T|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|sk-|sk_|rk_|gh[pousr]_|github_pat_|glpat-|xox|xapp-|AIza|npm_|SG\.|hf_|pypi-|whsec_|_v1_|:\/\/|(?:-u|--(?:proxy-)?user)(?:\s|=|\\?["'])|-u[^\s:"'\\@/]+:|mysql|mariadb|redis-cli|ldap|login|${NAME_KEYWORDS}`;
const TEXT_TRIGGER = new RegExp(TEXT_TRIGGER_SOURCE, 'i');

/**
 * A cheap test that lets ordinary text skip every rule: it matches wherever a token shape or a
 * credential-like property name (SENSITIVE_KEY) could start.
 */
const TRIGGER = new RegExp(String.raw`${TEXT_TRIGGER_SOURCE}|sid`, 'i');

/** False when no rule (by shape or by property name) can possibly apply to this text. */
export function mayHoldSecrets(text: string): boolean {
  return TRIGGER.test(text);
}

/** Replaces every token-shaped substring. */
export function redactText(text: string): Redacted<string> {
  if (!TEXT_TRIGGER.test(text)) return {value: text, count: 0};
  return applyTokenRules(text);
}

/**
 * JSON escapes of line breaks and tabs (raw JSON text, JSON inside a string): `\nghp_…` has no
 * word boundary before the token, and `--password\tX` no space after the flag. The rules run on
 * a copy where each such escape is a no-break space (a space to the rules, and one byte per
 * character like most text, which keeps the regular expressions fast) and the real character, the
 * same length; the escapes are put back afterwards. Valid JSON never holds that pair (no raw line
 * break or tab in a string, no no-break space outside one); a text that does is left as it is.
 */
const LAYOUT_ESCAPE = /\\(?:\\|([nrt]))/g;
const LAYOUT_MARK = /\u00a0([\n\r\t])/g;
const LAYOUT_MARK_ANY = /\u00a0[\n\r\t]/;
const REAL: Record<string, string> = {n: '\n', r: '\r', t: '\t'};
const ESCAPE: Record<string, string> = {'\n': 'n', '\r': 'r', '\t': 't'};

/** The token rules without the pre-filter (redactText must always agree with it: tested). */
export function applyTokenRules(text: string, options: {hints?: boolean} = {}): Redacted<string> {
  let count = 0;
  const layout = text.includes('\\') && !LAYOUT_MARK_ANY.test(text);
  let out = layout
    ? text.replace(LAYOUT_ESCAPE, (whole, letter?: string) => (letter === undefined ? whole : `\u00a0${REAL[letter]!}`))
    : text;
  for (const rule of TOKEN_RULES) {
    // Against the text as given: a redaction only removes text (its marker matches no rule).
    if (options.hints !== false && !rule.hintPattern.test(text)) continue;
    const {pattern} = rule;
    pattern.lastIndex = 0;
    let result = '';
    let copied = 0;
    let replaced = false;
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(out)) !== null) {
      const start = match.index;
      if (rule.accept && !rule.accept(match, out)) {
        pattern.lastIndex = start + Math.max(1, rule.retryAt ? rule.retryAt(match) : match[0].length);
        continue;
      }
      const end = rule.end ? rule.end(match, out) : start + match[0].length;
      const kind = typeof rule.kind === 'string' ? rule.kind : rule.kind(match);
      result += `${out.slice(copied, start)}${rule.keep ? rule.keep(match) : ''}[REDACTED:${kind}]`;
      copied = end;
      pattern.lastIndex = end;
      replaced = true;
      count++;
    }
    if (replaced) out = result + out.slice(copied);
  }
  if (layout) out = out.replace(LAYOUT_MARK, (_, char: string) => `\\${ESCAPE[char]!}`);
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
  if (Array.isArray(value)) return walkArray(value, state, depth);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    // A key can be a secret too (`{"ghp_…": 1}`, `{"password=hunter2": true}`): by shape, like any text.
    const redactedKey = redactKey(key);
    state.count += redactedKey.count;
    const name = uniqueKey(out, redactedKey.value);
    if (isSensitiveKey(key) && item !== null && typeof item !== 'number' && typeof item !== 'boolean' && item !== '') {
      state.count++;
      setOwn(out, name, '[REDACTED]');
    } else {
      setOwn(out, name, walk(item, state, depth + 1));
    }
  }
  return out;
}

/**
 * Array items one by one, and a string item also after the one before it (and the first, the
 * command): in an argv array the secret is the item after its flag (`["--password", "X"]`,
 * `["-u", "bob:pw"]`, `["mysql", "-uroot", "-pX"]`), which neither item shows alone.
 */
function walkArray(items: unknown[], state: {count: number; large: boolean}, depth: number): unknown[] {
  const out = new Array<unknown>(items.length);
  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    const previous = index > 0 ? items[index - 1] : undefined;
    if (typeof item === 'string' && typeof previous === 'string' && previous.startsWith('-')) {
      const alone = redactText(item);
      // The command and its subcommand say what the flag means (`docker login -p`, `mysql -p…`).
      const head = items.slice(0, Math.min(2, index - 1)).filter((word): word is string => typeof word === 'string');
      const prefix = `${[...head, previous].join(' ')} `;
      const joined = redactText(prefix + item);
      const inContext = joined.count > 0 && joined.value.startsWith(prefix) ? joined.value.slice(prefix.length) : alone.value;
      const chosen = inContext !== alone.value ? {value: inContext, count: Math.max(1, joined.count)} : alone;
      state.count += chosen.count;
      out[index] = chosen.value;
      continue;
    }
    out[index] = walk(item, state, depth + 1);
  }
  return out;
}

/** Keys repeat (every object of an array has the same ones): their redaction is remembered, up to a bound. */
const keyCache = new Map<string, Redacted<string>>();

function redactKey(key: string): Redacted<string> {
  const known = keyCache.get(key);
  if (known !== undefined) return known;
  const redacted = redactText(key);
  if (keyCache.size >= 4096) keyCache.clear();
  if (key.length <= 128) keyCache.set(key, redacted);
  return redacted;
}

/** `name`, or `name#2`, `name#3`… when a redacted key collides with one already there. */
function uniqueKey(out: Record<string, unknown>, name: string): string {
  if (!Object.hasOwn(out, name)) return name;
  let suffix = 2;
  while (Object.hasOwn(out, `${name}#${suffix}`)) suffix++;
  return `${name}#${suffix}`;
}

/** An own property even for `__proto__`, which plain assignment would turn into the prototype. */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, {value, enumerable: true, writable: true, configurable: true});
  else out[key] = value;
}

/**
 * Redacts raw JSON text that may be cut short (too large to parse): `"name": "value"` pairs with
 * a credential-like name lose their value, then the token shapes are replaced. Only the value of
 * a credential-like name is read to its end (the names are bounded): one pass, however large.
 */
export function redactJsonText(text: string): Redacted<string> {
  let count = 0;
  let pairs = '';
  let copied = 0;
  JSON_NAME.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = JSON_NAME.exec(text)) !== null) {
    const valueStart = match.index + match[0].length;
    if (!isSensitiveKey(match[1]!)) continue;
    const valueEnd = endOfJsonString(text, valueStart);
    if (valueEnd === valueStart) continue;
    pairs += `${text.slice(copied, valueStart)}[REDACTED]`;
    copied = valueEnd;
    JSON_NAME.lastIndex = valueEnd;
    count++;
  }
  if (count > 0) pairs += text.slice(copied);
  const shaped = redactText(count > 0 ? pairs : text);
  return {value: shaped.value, count: count + shaped.count};
}

/** `"name":` and the opening quote of a string value. */
const JSON_NAME = /"((?:[^"\\]|\\.){1,200})"\s*:\s*"/g;

/** Where the JSON string that starts at `from` (after its opening quote) ends: its closing quote, or the end of a cut text. */
function endOfJsonString(text: string, from: number): number {
  let quote = text.indexOf('"', from);
  while (quote !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return text.length;
}
