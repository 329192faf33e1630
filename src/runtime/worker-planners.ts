import { Injectable } from '@nestjs/common';
import type { ModelManifest } from '../contracts/model-manifest.js';
import type { ExtensionRef, SessionOptions, WorkerInit } from './worker-protocol.js';

/** A model version about to start, as the planners see it. */
export interface ModelToStart {
  name: string;
  version: string;
  modelPath: string;
  manifest: ModelManifest;
  /** The Hugging Face-layout folder, when the manifest's source is one. */
  folder?: string;
}

/**
 * A domain's rule for the workers of the models it serves: their plan (e.g. a session with the
 * domain's `embed` extension), or undefined when the model is not one of its own.
 */
export type WorkerPlanner = (model: ModelToStart) => WorkerPlan | undefined;

/**
 * The planners domain modules register at startup. The runtime runs whatever plan the first
 * planner that claims a model gives, and a plain session otherwise: it never switches on a task.
 */
@Injectable()
export class WorkerPlanners {
  private readonly planners: WorkerPlanner[] = [];

  register(planner: WorkerPlanner): void {
    this.planners.push(planner);
  }

  planFor(model: ModelToStart): WorkerPlan {
    for (const planner of this.planners) {
      const plan = planner(model);
      if (plan) return plan;
    }
    const { runtime, task } = model.manifest;
    if (runtime !== 'onnxruntime') throw new Error(`no worker extension serves "runtime": "${runtime}" models of task "${task}"`);
    return { kind: 'session', modelPath: model.modelPath };
  }
}

/** What a model's workers run: its session, its session with an `embed` or `generate` extension, or an extension's own program. */
export type WorkerPlan =
  | { kind: 'session'; modelPath: string }
  | { kind: 'session-embed'; modelPath: string; embed: ExtensionRef }
  | { kind: 'session-generate'; modelPath: string; generate: ExtensionRef }
  | { kind: 'pipeline'; pipeline: ExtensionRef };

/** The init a worker of this plan starts with, on these providers. */
export function workerInit(plan: WorkerPlan, providers: string[], intraOpThreads: number, spinning?: boolean): WorkerInit {
  const session = (modelPath: string, byDefault?: boolean): SessionOptions => {
    const spin = spinning ?? byDefault;
    return { modelPath, providers, intraOpThreads, ...(spin === undefined ? {} : { spinning: spin }) };
  };
  switch (plan.kind) {
    case 'session':
      return { kind: 'session', session: session(plan.modelPath) };
    case 'session-embed':
      return { kind: 'session-embed', session: session(plan.modelPath), embed: plan.embed };
    case 'session-generate':
      // The decode loop samples and detokenizes between steps: by default ONNX Runtime's threads do
      // not spin then (measured: 15% more tokens/s at 16 streams, 20% fewer at one; see bench/README.md).
      return { kind: 'session-generate', session: session(plan.modelPath, false), generate: plan.generate };
    case 'pipeline':
      return { kind: 'pipeline', providers, intraOpThreads, pipeline: plan.pipeline };
  }
}
