import { z } from 'zod';
import { elementCount, TENSOR_DATATYPES } from './tensor.js';

const stateSpec = z
  .object({
    /** The input that takes the state... */
    input: z.string().min(1),
    /** ...and the output that gives it back after each window. */
    output: z.string().min(1),
    /** Zeros of this shape start the scan; without it, the model's declared shape with dynamic dims as 1. */
    shape: z.array(z.number().int().min(1)).optional(),
  })
  .strict();

const constantSpec = z
  .object({
    name: z.string().min(1),
    datatype: z.enum(TENSOR_DATATYPES).exclude(['BYTES']),
    shape: z.array(z.number().int().min(0)),
    /** Row-major; one number per element. */
    value: z.array(z.number()),
  })
  .strict()
  .refine((c) => c.value.length === elementCount(c.shape), { message: 'value must hold one number per element of shape' });

/**
 * How a recurrent model runs over a long signal in one worker call (Silero VAD: 512-sample windows
 * with 64 samples of context, `state` -> `stateN`, `sr` = 16000). The window input is shaped
 * [1, contextSize + windowSize]: the last `contextSize` samples of the previous window (zeros
 * before the first), then the window; the last window is padded with zeros.
 * The same object is a model manifest's `stream` field.
 */
export const scanSpecSchema = z
  .object({
    input: z.string().min(1),
    windowSize: z.number().int().min(1).max(1_048_576),
    contextSize: z.number().int().min(0).max(1_048_576).default(0),
    state: z.array(stateSpec).default([]),
    constants: z.array(constantSpec).default([]),
    /** Collected at every window and returned concatenated, as float32. */
    output: z.string().min(1),
  })
  .strict();

export type ScanSpec = z.infer<typeof scanSpecSchema>;
export type ScanStateSpec = z.infer<typeof stateSpec>;
export type ScanConstantSpec = z.infer<typeof constantSpec>;
