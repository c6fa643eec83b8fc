// The floor for any stdio proxy that decides on a call's arguments: it must hold each client
// line whole, decode it and parse it before the first byte of it reaches the server (a policy
// cannot decide on half an argument). It does exactly that and nothing else: no decision, no
// audit, no checks, and the server's lines are piped back untouched (the most generous floor).
// What it forwards is the client's own bytes, after the parse, one write per read.
import {spawn} from 'node:child_process';

const NEWLINE = 0x0a;
const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, {stdio: ['pipe', 'pipe', 'inherit']});
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 1));

/** Chunks of a line not yet complete, and their total length. */
let pending = [];
let pendingBytes = 0;

function parseLine(bytes) {
  if (bytes.length > 0) JSON.parse(bytes.toString('utf8'));
}

process.stdin.on('data', (chunk) => {
  const last = chunk.lastIndexOf(NEWLINE);
  if (last === -1) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    return;
  }
  let start = 0;
  // The first line may have begun in earlier chunks: join it once (linear, not per chunk).
  if (pendingBytes > 0) {
    const first = chunk.indexOf(NEWLINE);
    parseLine(Buffer.concat([...pending, chunk.subarray(0, first)], pendingBytes + first));
    start = first + 1;
  }
  for (let newline = chunk.indexOf(NEWLINE, start); newline !== -1; newline = chunk.indexOf(NEWLINE, start)) {
    parseLine(chunk.subarray(start, newline));
    start = newline + 1;
  }
  for (const held of pending) child.stdin.write(held);
  child.stdin.write(chunk.subarray(0, last + 1));
  pending = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
  pendingBytes = chunk.length - (last + 1);
});
process.stdin.on('end', () => child.stdin.end());
