import { Injectable } from '@nestjs/common';
import type { ModelManifest } from '../contracts/model-manifest.js';
import type { WorkerPlan } from './model-runner.js';

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
