// Preloaded by bench/profile.ts (`node --import`): samples every allocation, including objects
// garbage collected since (what --heap-prof leaves out), and writes the profile at exit.
import {Session} from 'node:inspector';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';

const dir = process.env['THOTH_HEAP_SAMPLES_DIR'];
if (dir) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 8192,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  process.on('exit', () => {
    // An in-process session answers synchronously, so this completes before the process ends.
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(join(dir, `${process.pid}.heapprofile`), JSON.stringify(result.profile));
    });
  });
}
