import { getJson } from './api.js';

/** GET /v1/models' entries (OpenAI's shape with Lathe's task, versions and state). */
export interface ModelEntry {
  id: string;
  task: string | null;
  versions: string[];
  state: string;
  owned_by: string;
}

/** The model list, shared by the views (the Try-it selects, the fine-tuning backbones). */
export const catalog = {
  models: [] as ModelEntry[],
  listeners: [] as Array<() => void>,
  async refresh(): Promise<ModelEntry[]> {
    this.models = (await getJson<{ data: ModelEntry[] }>('/v1/models')).data;
    for (const l of this.listeners) l();
    return this.models;
  },
  /** Names of the models for any of `tasks`, fine-tuned ones last. */
  named(tasks: readonly string[]): string[] {
    const names = this.models.filter((m) => m.task !== null && tasks.includes(m.task)).map((m) => m.id);
    return [...names.filter((n) => !n.startsWith('ft:')), ...names.filter((n) => n.startsWith('ft:'))];
  },
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  },
};
