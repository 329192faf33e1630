/** A JSON body worker: bytes in, a parsed infer body with decoded tensors out (see json-body.ts). */
import { parentPort } from 'node:worker_threads';
import { parseInferBody, transferablesOf } from './json-body.js';

parentPort!.on('message', (bytes: Uint8Array) => {
  const reply = parseInferBody(bytes);
  parentPort!.postMessage(reply, transferablesOf(reply));
});
