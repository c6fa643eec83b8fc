import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';

/**
 * V8's full garbage collection, as a function (a no-op where the runtime does not offer one).
 *
 * `--expose-gc` set at run time gives new contexts a `gc` function (the main context keeps no
 * global `gc`, so nothing else in the process can call it). thoth calls it after a message of
 * several MB: the read chunks, the decoded text and the parsed value it leaves behind are
 * garbage, but V8 would keep them until external memory grew by its own limit (64 MiB more),
 * which is how a sidecar ends up holding a 10 MB message four or five times over.
 *
 * The context is made on the first call, not before: it costs ~1.6 ms and ~0.75 MiB, which most
 * sessions (no message of several MB) should not pay at start-up.
 */
export function garbageCollector(): () => void {
  let gc: (() => void) | null | undefined;
  return () => {
    gc ??= exposedGc();
    gc?.();
  };
}

function exposedGc(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? () => void gc() : null;
  } catch {
    return null;
  }
}
