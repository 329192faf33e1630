/** A JSON body worker: bytes in, a parsed infer body with decoded tensors out (see json-body.ts). */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { parseInferBody, transferablesOf } from './json-body.js';

// Linux's setpriority applies to the calling thread only: when cores are short, the HTTP thread,
// which answers health checks, goes first. Elsewhere it would lower the whole process, so not there.
if (process.platform === 'linux') {
  try {
    setPriority(10);
  } catch {
    // not permitted: parse at normal priority
  }
}

parentPort!.on('message', (bytes: Uint8Array) => {
  const reply = parseInferBody(bytes);
  parentPort!.postMessage(reply, transferablesOf(reply));
});
