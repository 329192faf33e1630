import type { NamedTensors } from '../contracts/tensor.js';

/**
 * Runs one request through a model's runner (worker threads, batching, queue, deadline) and
 * returns the requested outputs. Task pipelines take this instead of the repository so their
 * pre- and post-processing can be tested against an in-process session too.
 * For a model with a batch dimension every input carries it (rows = shape[0]).
 */
export type RunModel = (model: string, inputs: NamedTensors, outputs: string[]) => Promise<NamedTensors>;
