/** OpenAI's name of a checkpoint as a model: `<fine-tuned model>:ckpt-step-<step>`. */
export function checkpointModelName(model: string, step: number): string {
  return `${model}:ckpt-step-${step}`;
}

/** Whether a model name is a checkpoint's (see checkpointModelName). */
export function isCheckpointModelName(name: string): boolean {
  return /^ft:.*:ckpt-step-\d+$/.test(name);
}
