/**
 * A worker thread for models whose inference is a program of its own (e.g. an encoder and a
 * decoder with generation) rather than one session.run: the extension named in its init loads
 * and runs it. Like a session worker: one request at a time, the provider list tried in order,
 * nothing on the thread that answers HTTP.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCode } from '../common/errors/error-code.js';
import { importExtension, type PipelineExtension, type PipelineHandler } from './worker-extension.js';
import { type FromWorker, firstLine, inOrder, type ToWorker, type WorkerInit } from './worker-protocol.js';

const init: Extract<WorkerInit, { kind: 'pipeline' }> = workerData;
try {
  setPriority(10);
} catch {
  // Not permitted: normal priority.
}

const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

async function load(): Promise<void> {
  const fallbacks: Array<{ provider: string; error: string }> = [];
  let extension: PipelineExtension;
  try {
    extension = await importExtension<PipelineExtension>(init.pipeline.module);
  } catch (err) {
    post({ type: 'load-failed', error: firstLine(err) });
    return;
  }
  for (const provider of init.providers) {
    try {
      const handler = await extension.load(init.pipeline.config, { provider, intraOpThreads: init.intraOpThreads });
      post({ type: 'ready', provider, fallbacks, inputs: [], outputs: [] });
      port.on(
        'message',
        inOrder((message) => handle(handler, message)),
      );
      return;
    } catch (err) {
      fallbacks.push({ provider, error: firstLine(err) });
    }
  }
  post({ type: 'load-failed', error: fallbacks.map((f) => `${f.provider}: ${f.error}`).join('; ') });
}

async function handle(handler: PipelineHandler, message: ToWorker): Promise<void> {
  if (message.type === 'close') {
    await handler.dispose();
    port.close();
    return;
  }
  // Nothing of a pipeline's can be cancelled: the call runs to its end.
  if (message.type === 'cancel') return;
  if (message.kind !== 'pipeline') {
    post({ type: 'failed', id: message.id, code: ErrorCode.Internal, message: `a pipeline worker cannot take "${message.kind}" work` });
    return;
  }
  try {
    const startedNs = process.hrtime.bigint();
    const output = await handler.call(message.batch);
    const timing = { startedNs, inputNs: 0, inferNs: Number(process.hrtime.bigint() - startedNs) };
    post({ type: 'done', kind: 'pipeline', id: message.id, answer: { output }, timing });
  } catch (err) {
    post({ type: 'failed', id: message.id, code: ErrorCode.ValidationFailed, message: firstLine(err) });
  }
}

await load();
