/**
 * One ONNX Runtime session in a worker thread: InferenceSession.run() blocks its thread for the
 * whole inference, so it must never run on the main thread that answers HTTP (a model whose
 * manifest opts in to `inline` is the measured exception; see ModelRunner).
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { hostSession, type SessionInit } from './session-host.js';

const init: SessionInit = workerData;

// Linux nice values are per thread, and the threads ONNX Runtime starts from here inherit this one:
// inference yields the CPU to the thread that answers HTTP, so health checks and the queue's 429s
// stay fast when every core is busy with models. A decoder loop keeps the HTTP thread's priority:
// its steps are short and run back to back, the HTTP thread's work between them (the streamed
// tokens) is part of the same answer, and at nice 10 every wake of that thread (or of any other
// process) stalls a step's parallel section; the event loop still answers within 50 ms at 16
// streams (generation-event-loop.serial.test.ts).
try {
  if (init.kind !== 'session-generate') setPriority(10);
} catch {
  // Not permitted (some containers): run at normal priority.
}

await hostSession(init, parentPort!);
