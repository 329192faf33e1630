/**
 * Decodes and resamples one long WAV off the thread that answers HTTP: ten minutes of 44.1 kHz
 * stereo take about two seconds of CPU.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { resample } from './resample.js';
import { decodeWavMono, type WavInfo } from './wav.js';

export interface WavDecodeJob {
  bytes: Uint8Array;
  info: WavInfo;
  targetRate: number;
}

const job = workerData as WavDecodeJob;
const samples = resample(decodeWavMono(job.bytes, job.info), job.info.sampleRate, job.targetRate);
parentPort!.postMessage(samples, [samples.buffer as ArrayBuffer]);
