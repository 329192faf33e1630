/**
 * A Transformers.js pipeline in a worker thread, for models whose inference is a loop of several
 * sessions (Whisper's encoder and decoder with generation) rather than one session.run. Like a
 * session worker: one request at a time, the provider list tried in order, nothing on the thread
 * that answers HTTP. Files come from the model's local folder only.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { pipeline } from '@huggingface/transformers';
import { configureTransformers } from './hf-tokenizer.js';
import { type FromWorker, inOrder, type ToWorker, type WorkerInit } from './worker-protocol.js';

const init = workerData as WorkerInit & { pipeline: NonNullable<WorkerInit['pipeline']> };
try {
  setPriority(10);
} catch {
  // Not permitted: normal priority.
}
configureTransformers(init.pipeline.cacheDir);

const port = parentPort!;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

type Pipe = ((input: unknown, options?: Record<string, unknown>) => Promise<unknown>) & { dispose(): Promise<void> };

async function load(): Promise<void> {
  const fallbacks: Array<{ provider: string; error: string }> = [];
  for (const provider of init.providers) {
    try {
      const pipe = (await pipeline(init.pipeline.task as 'automatic-speech-recognition', init.pipeline.folder, {
        device: provider as 'cpu',
        dtype: init.pipeline.dtype as 'fp32',
        session_options: { intraOpNumThreads: init.intraOpThreads, interOpNumThreads: 1 },
      })) as unknown as Pipe;
      post({ type: 'ready', provider, fallbacks, inputs: [], outputs: [] });
      serve(pipe);
      return;
    } catch (err) {
      fallbacks.push({ provider, error: firstLine(err) });
    }
  }
  post({ type: 'load-failed', error: fallbacks.map((f) => `${f.provider}: ${f.error}`).join('; ') });
}

function serve(pipe: Pipe): void {
  port.on(
    'message',
    inOrder((message) => handle(pipe, message)),
  );
}

async function handle(pipe: Pipe, message: ToWorker): Promise<void> {
  if (message.type === 'close') {
    await pipe.dispose();
    port.close();
    return;
  }
  if (message.type !== 'pipeline') {
    post({ type: 'run-failed', id: message.id, error: `a pipeline worker cannot take a "${message.type}" message` });
    return;
  }
  try {
    const started = process.hrtime.bigint();
    const value = await pipe(message.input, message.options);
    post({
      type: 'result',
      id: message.id,
      outputs: {},
      value,
      inputNs: 0,
      inferNs: Number(process.hrtime.bigint() - started),
      startedNs: started,
    });
  } catch (err) {
    post({ type: 'run-failed', id: message.id, error: firstLine(err) });
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);
}

await load();
