import {hostname} from 'node:os';
import {readFile, readdir, stat} from 'node:fs/promises';
import {basename, join} from 'node:path';

import {errnoCode} from '../core/errors.js';
import type {AuditKey} from './key.js';
import {isApprovalEvidence, unapprovedUses, type ApprovalEventAt} from './approval-check.js';
import {REGISTRY_CHAIN, REGISTRY_FILE, parseSegmentFileName} from './layout.js';
import {checkLine, genesisHash, sha256Hex, splitLines, type ParsedRecord} from './record.js';

/**
 * `thoth audit verify`: replays every chain and reports the first record that breaks it.
 *
 * Tampering (exit AUDIT_TAMPERED): a record whose HMAC fails (edited, or forged without the key),
 * a sequence gap or a wrong `prev` (deleted, inserted or reordered records), a chain or segment
 * missing although the registry or the previous segment names it (deleted or swapped files), a
 * chain that ends before the seal the registry recorded (truncated), files no registry entry
 * accounts for.
 *
 * Crash artefacts (exit AUDIT_TORN_TAIL): a last line that is not a complete record, and a chain
 * whose writer is gone without sealing it. An interrupted write that the writer itself later
 * acknowledged (`torn` record with the fragment's length and SHA-256) is neither: it is a note.
 *
 * Authority (exit AUDIT_TAMPERED, kind `unapproved`): an APPROVAL_USED whose approval has no
 * matching APPROVAL_GRANTED (via cli) in a sealed chain of the directory, or was used more than
 * once. A session honours a grant only with that record (src/approvals/grant-proof.ts), so such a
 * use means approvals.json was edited by hand, the grant's chain was removed, or the trail was
 * written by a thoth older than that check.
 */
export type ProblemKind = 'tampered' | 'torn-tail' | 'unsealed' | 'unapproved';

export interface VerifyProblem {
  kind: ProblemKind;
  file: string;
  /** 1-based line in `file`, when one record is at fault. */
  line?: number;
  chain?: string;
  seq?: number;
  message: string;
}

export type ChainState = 'sealed' | 'active' | 'crashed' | 'broken';

export interface ChainReport {
  chain: string;
  agentId?: string;
  sessionId?: string;
  state: ChainState;
  files: string[];
  records: number;
  events: number;
  /** seq of the last valid record. */
  lastSeq: number;
}

export type VerifyStatus = 'intact' | 'torn-tail' | 'tampered';

export interface VerifyReport {
  status: VerifyStatus;
  path: string;
  keyId: string;
  chains: number;
  files: number;
  records: number;
  events: number;
  /** Tampering first, then crash artefacts; at most MAX_PROBLEMS. */
  problems: VerifyProblem[];
  /** Things worth knowing that are not defects (acknowledged interrupted writes, chains still being written). */
  notes: string[];
  chainReports: ChainReport[];
}

export interface VerifyOptions {
  /** Whether the process that wrote a chain is still running (its chain may be open). */
  isWriterAlive?: (pid: number, host: string) => boolean;
  /**
   * Replay only these chains (the registry is always replayed in full). A chain left out is only
   * checked for what needs no reading: the registry lists it and its files are gone. `thoth
   * health` uses this to bound its time (see bounded-verify.ts); `thoth audit verify` never does.
   */
  onlyChains?: ReadonlySet<string>;
}

const MAX_PROBLEMS = 100;
const TORN_LOOKBACK = 8;

export function statusOf(problems: readonly VerifyProblem[]): VerifyStatus {
  if (problems.some((p) => p.kind === 'tampered' || p.kind === 'unapproved')) return 'tampered';
  return problems.length > 0 ? 'torn-tail' : 'intact';
}

interface State {
  nextSeq: number;
  lastHash: string;
}

interface HistoryPoint {
  /** Byte offset just after a committed line. */
  end: number;
  state: State;
  records: number;
  events: number;
  seal?: NonNullable<ReplayResult['seal']>;
}

interface ReplayResult {
  state: State;
  records: number;
  events: number;
  /** The last control record seen, when the segment ended with a seal. */
  seal?: {reason: string; next?: string; seq: number; hash: string};
  /** The segment's open record. */
  open?: Record<string, unknown>;
  /** Trailing lines that are not complete records (a crash, if nothing valid follows). */
  tornTail?: {line: number; bytes: number};
  /** Valid records, for callers that want them (the registry). */
  ctl: ParsedRecord[];
  /** Committed events that `keepEvent` selected, with their line. */
  kept: KeptEvent[];
}

export interface KeptEvent {
  payload: Record<string, unknown>;
  seq: number;
  line: number;
}

/** What one verification shares across its files and chains: the key, and what it found so far. */
interface Verification {
  readonly key: AuditKey;
  readonly problems: VerifyProblem[];
  readonly notes: string[];
}

/** A directory's verification: also the registry's view, who is still writing, and approval evidence. */
interface DirectoryVerification extends Verification {
  readonly dir: string;
  readonly registry: RegistryView;
  readonly isAlive: (pid: number, host: string) => boolean;
  /** APPROVAL_GRANTED / APPROVAL_USED events seen, with where they are. */
  readonly approvals: ApprovalEventAt[];
}

/** One file of a chain, and the state the chain was in before it. */
interface FileToReplay {
  file: string;
  data: Buffer;
  chain: string;
  start: State;
}

function newVerification(key: AuditKey): Verification {
  return {key, problems: [], notes: []};
}

/**
 * Replays one file of a chain from its start state. Problems and notes go to the verification;
 * replay stops at the first tampering in the file (everything after it is unproven anyway).
 */
function replay(
  verification: Verification,
  {file, data, chain, start}: FileToReplay,
  options: {keepControl?: boolean; expectOpen?: {file: string; index: number}; keepEvent?: (payload: Record<string, unknown>) => boolean},
): ReplayResult {
  const {key, problems, notes} = verification;
  const result: ReplayResult = {state: {...start}, records: 0, events: 0, ctl: [], kept: []};
  const lines = splitLines(data);
  // Byte offset just after each committed line, with the state it left (for torn acknowledgements).
  const history: HistoryPoint[] = [{end: 0, state: {...start}, records: 0, events: 0}];
  let offset = 0;
  let bad: Array<{line: number; reason: string; message: string; start: number}> = [];
  const tamper = (line: number | undefined, message: string, seq?: number): ReplayResult => {
    const problem: VerifyProblem = {kind: 'tampered', file, chain, message};
    if (line !== undefined) problem.line = line;
    if (seq !== undefined) problem.seq = seq;
    problems.push(problem);
    return result;
  };
  for (const line of lines) {
    const lineStart = offset;
    offset += line.bytes.length + (line.complete ? 1 : 0);
    const checked = checkLine(key, line.text);
    if (!checked.ok) {
      let message = checked.message;
      if (checked.reason === 'forged' && line.line === 1) message += keyHint(line.text, key);
      bad.push({line: line.line, reason: checked.reason, message, start: lineStart});
      continue;
    }
    const record = checked.record;
    if (record.kind === 'ctl' && record.payload['kind'] === 'torn') {
      const accepted = acceptTorn(data, lineStart, record, history);
      if (!accepted) return tamper(line.line, 'a "torn" record does not match the bytes it claims to acknowledge', record.seq);
      notes.push(
        `${file}:${line.line}: an interrupted write of ${String(record.payload['bytes'])} bytes (disk full or crash) was acknowledged by the writer`,
      );
      // Whatever the fragment held (even a whole record that lacked its newline) was never committed.
      result.state = {...accepted.state};
      result.records = accepted.records;
      result.events = accepted.events;
      result.kept = result.kept.filter((kept) => kept.seq < accepted.state.nextSeq);
      if (accepted.seal) result.seal = accepted.seal;
      else delete result.seal;
      bad = [];
    } else if (bad.length > 0) {
      const first = bad[0]!;
      return tamper(first.line, `${first.message}, and valid records follow it`);
    }
    if (record.chain !== chain)
      return tamper(line.line, `the record belongs to chain ${record.chain}, not ${chain}: records or files were swapped`, record.seq);
    if (record.seq !== result.state.nextSeq) {
      return tamper(
        line.line,
        `expected seq ${result.state.nextSeq}, found ${record.seq}: records were deleted, inserted or reordered`,
        record.seq,
      );
    }
    if (record.prev !== result.state.lastHash) {
      return tamper(
        line.line,
        'its "prev" is not the hash of the record before it: records were deleted, inserted, reordered or edited',
        record.seq,
      );
    }
    if (result.seal)
      return tamper(line.line, `a record follows the seal of this ${result.seal.reason === 'rotate' ? 'segment' : 'chain'}`, record.seq);
    if (options.expectOpen) {
      const isFirst = result.records === 0;
      const isOpen = record.kind === 'ctl' && record.payload['kind'] === 'open';
      if (isFirst !== isOpen)
        return tamper(
          line.line,
          isFirst ? 'a segment must start with its "open" record' : 'an "open" record in the middle of a segment',
          record.seq,
        );
      if (isOpen && (record.payload['file'] !== options.expectOpen.file || record.payload['segment'] !== options.expectOpen.index)) {
        return tamper(line.line, `the segment says it is ${String(record.payload['file'])}: the file was renamed or swapped`, record.seq);
      }
      if (isOpen) result.open = record.payload;
    }
    if (record.kind === 'ctl' && record.payload['kind'] === 'seal') {
      const seal: NonNullable<ReplayResult['seal']> = {reason: String(record.payload['reason']), seq: record.seq, hash: record.hash};
      if (typeof record.payload['next'] === 'string') seal.next = record.payload['next'];
      result.seal = seal;
    }
    result.records++;
    if (record.kind === 'event') {
      result.events++;
      if (options.keepEvent?.(record.payload)) result.kept.push({payload: record.payload, seq: record.seq, line: line.line});
    } else if (options.keepControl) result.ctl.push(record);
    result.state = {nextSeq: record.seq + 1, lastHash: record.hash};
    const point: HistoryPoint = {end: offset, state: {...result.state}, records: result.records, events: result.events};
    if (result.seal) point.seal = result.seal;
    history.push(point);
    if (history.length > TORN_LOOKBACK + 1) history.shift();
  }
  if (bad.length > 0) {
    const forged = bad.find((b) => b.reason !== 'unparsable');
    if (forged) return tamper(forged.line, forged.message);
    const first = bad[0]!;
    result.tornTail = {line: first.line, bytes: data.length - first.start};
  }
  return result;
}

/** A `torn` record is valid when it chains to a committed line and hashes exactly the bytes since. */
function acceptTorn(data: Buffer, lineStart: number, record: ParsedRecord, history: HistoryPoint[]): HistoryPoint | undefined {
  const bytes = record.payload['bytes'];
  const digest = record.payload['sha256'];
  for (let i = history.length - 1; i >= 0; i--) {
    const point = history[i]!;
    if (point.state.nextSeq !== record.seq || point.state.lastHash !== record.prev) continue;
    // The fragment runs from the end of that line to the newline written before the acknowledgement.
    if (lineStart - 1 < point.end) continue;
    const fragment = data.subarray(point.end, lineStart - 1);
    if (fragment.length === bytes && sha256Hex(fragment) === digest) return point;
  }
  return undefined;
}

function keyHint(text: string, key: AuditKey): string {
  const match = /"keyId":"([0-9a-f]{16})"/.exec(text);
  return match && match[1] !== key.keyId ? ` (this chain names key ${match[1]}, the key file holds ${key.keyId})` : '';
}

interface RegistryView {
  opens: Map<string, Record<string, unknown>>;
  seals: Map<string, Record<string, unknown>>;
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

export function defaultWriterAlive(pid: number, host: string): boolean {
  if (host !== hostname()) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}

/** Verifies a whole audit directory: the registry, every chain, every segment. */
export async function verifyAuditDir(dir: string, key: AuditKey, options: VerifyOptions = {}): Promise<VerifyReport> {
  const names = (await readdir(dir)).sort();
  const segmentsByChain = new Map<string, Array<{name: string; index: number}>>();
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (!parsed) continue;
    const list = segmentsByChain.get(parsed.chain) ?? [];
    list.push({name, index: parsed.index});
    segmentsByChain.set(parsed.chain, list);
  }
  for (const list of segmentsByChain.values()) list.sort((a, b) => a.index - b.index);

  let records = 0;
  let events = 0;
  let files = 0;
  const registry: RegistryView = {opens: new Map(), seals: new Map()};
  const verification: DirectoryVerification = {
    ...newVerification(key),
    dir,
    registry,
    isAlive: options.isWriterAlive ?? defaultWriterAlive,
    approvals: [],
  };
  const {problems, notes} = verification;
  const registryData = await readOptional(join(dir, REGISTRY_FILE));
  if (registryData) {
    files++;
    const replayed = replay(
      verification,
      {file: REGISTRY_FILE, data: registryData, chain: REGISTRY_CHAIN, start: {nextSeq: 0, lastHash: genesisHash(REGISTRY_CHAIN)}},
      {keepControl: true},
    );
    records += replayed.records;
    if (replayed.tornTail) {
      problems.push({
        kind: 'torn-tail',
        file: REGISTRY_FILE,
        line: replayed.tornTail.line,
        chain: REGISTRY_CHAIN,
        message: `the last ${replayed.tornTail.bytes} bytes are not a complete record (a crash during a registry append)`,
      });
    }
    for (const record of replayed.ctl) {
      const chain = record.payload['chain'];
      if (typeof chain !== 'string') continue;
      if (record.payload['kind'] === 'chain-open') registry.opens.set(chain, record.payload);
      if (record.payload['kind'] === 'chain-seal') registry.seals.set(chain, record.payload);
    }
  } else if (segmentsByChain.size > 0) {
    problems.push({kind: 'tampered', file: REGISTRY_FILE, message: 'the registry is missing although segment files exist: it was deleted'});
  }

  const chainReports: ChainReport[] = [];
  const chains = new Set([...registry.opens.keys(), ...segmentsByChain.keys()]);
  let skipped = 0;
  const approvals: ApprovalEventAt[] = [];
  for (const chain of [...chains].sort()) {
    if (options.onlyChains && !options.onlyChains.has(chain) && segmentsByChain.has(chain)) {
      skipped++;
      continue;
    }
    const seenBefore = verification.approvals.length;
    const report = await verifyChain(verification, chain, segmentsByChain.get(chain) ?? []);
    for (const event of verification.approvals.splice(seenBefore)) approvals.push({...event, chainSealed: report.state === 'sealed'});
    files += report.files.length;
    records += report.records;
    events += report.events;
    chainReports.push(report);
  }
  // Only a replay of every chain can tell that a grant is missing.
  if (!options.onlyChains) problems.push(...unapprovedUses(approvals));
  for (const name of names) {
    if (name.endsWith('.jsonl') && name !== REGISTRY_FILE && !parseSegmentFileName(name))
      notes.push(`${name}: not an audit file name; ignored`);
  }
  if (skipped > 0)
    notes.push(
      `${skipped} other chain${skipped === 1 ? ' was' : 's were'} not replayed (only checked to be present); \`thoth audit verify\` replays every chain`,
    );
  return finish(dir, verification, chainReports, {files, records, events});
}

async function verifyChain(
  verification: DirectoryVerification,
  chain: string,
  segments: Array<{name: string; index: number}>,
): Promise<ChainReport> {
  const {dir, registry, problems, notes, isAlive, approvals} = verification;
  const open = registry.opens.get(chain);
  const sealEntry = registry.seals.get(chain);
  const report: ChainReport = {chain, state: 'broken', files: [], records: 0, events: 0, lastSeq: -1};
  if (open) {
    if (typeof open['agentId'] === 'string') report.agentId = open['agentId'];
    if (typeof open['sessionId'] === 'string') report.sessionId = open['sessionId'];
  }
  const problemCount = problems.length;
  const firstName = segments[0]?.name ?? (typeof open?.['file'] === 'string' ? open['file'] : `${chain}`);
  if (segments.length === 0) {
    problems.push({
      kind: 'tampered',
      file: firstName,
      chain,
      message: `the registry lists chain ${chain} but its files are gone: they were deleted`,
    });
    return report;
  }
  let state: State = {nextSeq: 0, lastHash: genesisHash(chain)};
  let last: ReplayResult | undefined;
  let expectedName = open && typeof open['file'] === 'string' ? open['file'] : segments[0]!.name;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.index !== i) {
      problems.push({
        kind: 'tampered',
        file: i === 0 ? segment.name : segments[i - 1]!.name,
        chain,
        message: `segment ${i} of chain ${chain} is missing: it was deleted`,
      });
      break;
    }
    if (segment.name !== expectedName) {
      problems.push({
        kind: 'tampered',
        file: segment.name,
        chain,
        message: `expected the next segment to be ${expectedName}: files were renamed, deleted or swapped`,
      });
      break;
    }
    const data = await readFile(join(dir, segment.name));
    report.files.push(segment.name);
    const before = problems.length;
    last = replay(
      verification,
      {file: segment.name, data, chain, start: state},
      {expectOpen: {file: segment.name, index: segment.index}, keepEvent: isApprovalEvidence},
    );
    for (const kept of last.kept) approvals.push({...kept, file: segment.name, chain, chainSealed: false});
    report.records += last.records;
    report.events += last.events;
    state = last.state;
    if (problems.length > before) break;
    if (last.seal?.reason === 'rotate') {
      if (!last.seal.next) {
        problems.push({kind: 'tampered', file: segment.name, chain, message: 'a rotation seal without the name of the next segment'});
        break;
      }
      expectedName = last.seal.next;
      if (i === segments.length - 1) {
        // A live writer may have rotated after the directory was listed.
        if (open && isAlive(Number(open['pid']), String(open['host']))) {
          notes.push(`chain ${chain} rotated to ${last.seal.next} while it was being verified`);
          report.state = 'active';
          report.lastSeq = state.nextSeq - 1;
          return report;
        }
        problems.push({
          kind: 'tampered',
          file: last.seal.next,
          chain,
          message: `segment ${last.seal.next} (named by ${segment.name}) is missing: it was deleted`,
        });
      }
      continue;
    }
    if (i < segments.length - 1) {
      problems.push({
        kind: 'tampered',
        file: segments[i + 1]!.name,
        chain,
        message: `${segments[i + 1]!.name} follows a segment that was not rotated: a file was added or swapped`,
      });
      break;
    }
  }
  report.lastSeq = state.nextSeq - 1;
  if (problems.length > problemCount || !last) return report;

  const lastFile = report.files[report.files.length - 1]!;
  if (!open) {
    // A start interrupted between creating the segment and registering it leaves only the open record.
    if (report.files.length === 1 && report.records === 1 && report.events === 0 && !last.tornTail) {
      notes.push(`${lastFile}: a chain that never got to its first event (start interrupted before registration)`);
      report.state = 'crashed';
      return report;
    }
    problems.push({
      kind: 'tampered',
      file: report.files[0]!,
      chain,
      message: `chain ${chain} is not in the registry: registry records were removed`,
    });
    return report;
  }
  if (sealEntry) {
    if (
      last.seal?.reason !== 'close' ||
      sealEntry['seq'] !== last.seal.seq ||
      sealEntry['hash'] !== last.seal.hash ||
      sealEntry['file'] !== lastFile
    ) {
      problems.push({
        kind: 'tampered',
        file: lastFile,
        chain,
        seq: report.lastSeq,
        message: `the registry recorded this chain sealed at seq ${String(sealEntry['seq'])} in ${String(sealEntry['file'])}, but it ends at seq ${report.lastSeq}${last.seal ? '' : ' without its seal'}: records were removed from its end`,
      });
      return report;
    }
    report.state = 'sealed';
    return report;
  }
  if (last.seal?.reason === 'close') {
    // Sealed in the file; the process stopped before recording the seal in the registry.
    notes.push(`${lastFile}: sealed, but the seal did not reach the registry (the process stopped right after)`);
    report.state = 'sealed';
    return report;
  }
  const pid = typeof open['pid'] === 'number' ? open['pid'] : -1;
  const host = typeof open['host'] === 'string' ? open['host'] : '';
  if (isAlive(pid, host)) {
    report.state = 'active';
    notes.push(`chain ${chain} (${lastFile}) is still being written by pid ${pid}`);
    return report;
  }
  report.state = 'crashed';
  if (last.tornTail) {
    problems.push({
      kind: 'torn-tail',
      file: lastFile,
      line: last.tornTail.line,
      chain,
      message: `the last ${last.tornTail.bytes} bytes are not a complete record: the writer (pid ${pid}) stopped in the middle of a write (crash, kill or power loss)`,
    });
  } else {
    problems.push({
      kind: 'unsealed',
      file: lastFile,
      chain,
      seq: report.lastSeq,
      message: `the chain ends at seq ${report.lastSeq} without a seal: its writer (pid ${pid}) stopped without closing it (crash, kill or power loss), so records after it cannot be proven complete`,
    });
  }
  return report;
}

function finish(
  path: string,
  {key, problems, notes}: Verification,
  chainReports: ChainReport[],
  totals: {files: number; records: number; events: number},
): VerifyReport {
  const ordered = (['tampered', 'unapproved', 'torn-tail', 'unsealed'] as const).flatMap((kind) => problems.filter((p) => p.kind === kind));
  return {
    status: statusOf(ordered),
    path,
    keyId: key.keyId,
    chains: chainReports.length,
    files: totals.files,
    records: totals.records,
    events: totals.events,
    problems: ordered.slice(0, MAX_PROBLEMS),
    notes,
    chainReports,
  };
}

/**
 * Verifies one file on its own: the records chain to each other and carry valid MACs. What only
 * the directory can tell (missing neighbours, the registry's seal) is out of its reach.
 */
export async function verifyAuditFile(path: string, key: AuditKey): Promise<VerifyReport> {
  const data = await readFile(path);
  const name = basename(path);
  const verification = newVerification(key);
  const {problems, notes} = verification;
  const parsed = parseSegmentFileName(name);
  const firstLine = splitLines(data.subarray(0, Math.min(data.length, 64 * 1024)))[0];
  const first = firstLine ? checkLine(undefined, firstLine.text) : undefined;
  const chain = parsed?.chain ?? (first?.ok ? first.record.chain : REGISTRY_CHAIN);
  // A later segment starts from wherever its open record says; the first from the genesis.
  const start: State =
    first?.ok && (parsed?.index ?? 0) > 0
      ? {nextSeq: first.record.seq, lastHash: first.record.prev}
      : {nextSeq: 0, lastHash: genesisHash(chain)};
  const options = parsed ? {expectOpen: {file: name, index: parsed.index}} : {};
  const result = replay(verification, {file: name, data, chain, start}, options);
  if (result.tornTail) {
    problems.push({
      kind: 'torn-tail',
      file: name,
      line: result.tornTail.line,
      chain,
      message: `the last ${result.tornTail.bytes} bytes are not a complete record (an interrupted write)`,
    });
  }
  const report: ChainReport = {
    chain,
    state: result.seal ? 'sealed' : problems.length > 0 ? 'broken' : 'active',
    files: [name],
    records: result.records,
    events: result.events,
    lastSeq: result.state.nextSeq - 1,
  };
  if (!result.seal && problems.length === 0)
    notes.push(
      `${name}: not sealed (still being written, rotated later, or its writer stopped); run verify on the directory to know which`,
    );
  return finish(path, verification, [report], {files: 1, records: result.records, events: result.events});
}

export type StandaloneChainCheck = {ok: true; chain: string; events: Array<Record<string, unknown>>} | {ok: false; why: string};

/**
 * The events of a chain written by writeStandaloneChain (thoth approve, deny, pins accept), for
 * a caller that must rely on them (a session honouring a grant): `file` must be the one segment
 * of its chain in `dir`, every record's MAC valid under `key`, the records chained from the
 * genesis, and the chain closed by its seal. Read once: what is checked is what is returned.
 * The registry is not consulted (one file read per grant); `thoth audit verify` checks it.
 */
export async function readSealedStandaloneChain(dir: string, file: string, key: AuditKey): Promise<StandaloneChainCheck> {
  const parsed = parseSegmentFileName(file);
  if (!parsed || parsed.index !== 0) return {ok: false, why: `"${file}" is not the name of the first segment of an audit chain`};
  const data = await readOptional(join(dir, file));
  if (!data) return {ok: false, why: `${file} is not in the audit directory ${dir}`};
  const verification = newVerification(key);
  const result = replay(
    verification,
    {file, data, chain: parsed.chain, start: {nextSeq: 0, lastHash: genesisHash(parsed.chain)}},
    {
      expectOpen: {file, index: 0},
      keepEvent: () => true,
    },
  );
  const problem = verification.problems[0];
  if (problem) return {ok: false, why: `${file}${problem.line === undefined ? '' : `:${problem.line}`}: ${problem.message}`};
  if (result.tornTail) return {ok: false, why: `${file} ends in an incomplete record`};
  if (result.seal?.reason !== 'close') return {ok: false, why: `${file} is not sealed (its chain was never closed)`};
  return {ok: true, chain: parsed.chain, events: result.kept.map((kept) => kept.payload)};
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path)).isDirectory();
}
