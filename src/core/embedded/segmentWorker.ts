// Worker-thread entry of the SegmentRoller: runs roll jobs posted by the main thread and posts
// back their result or error message. A failed job never takes the worker (or the process) down.

import { parentPort } from 'node:worker_threads';
import { rollWalFiles } from './segmentJob.js';

parentPort?.on('message', (job: { id: number; walPaths: string[]; segmentPath: string }) => {
  rollWalFiles(job.walPaths, job.segmentPath).then(
    (result) => parentPort!.postMessage({ id: job.id, result }),
    (err: unknown) => parentPort!.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
