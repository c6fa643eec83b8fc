import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';

/**
 * V8's full garbage collection, as a function, or undefined where the runtime does not offer one.
 *
 * `--expose-gc` set at run time gives new contexts a `gc` function (the main context keeps no
 * global `gc`, so nothing else in the process can call it). thoth calls it after a message of
 * several MB: the read chunks, the decoded text and the parsed value it leaves behind are
 * garbage, but V8 would keep them until external memory grew by its own limit (64 MiB more),
 * which is how a sidecar ends up holding a 10 MB message four or five times over.
 */
export function garbageCollector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? () => void gc() : undefined;
  } catch {
    return undefined;
  }
}
