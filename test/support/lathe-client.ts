import { jsonl, topicExamples } from './fine-tuning.js';
import { waitFor } from './processes.js';

export interface Timed {
  status: number;
  body: unknown;
  retryAfter: string | null;
  ms: number;
}

export interface FinishedJob {
  status: string;
  error: unknown;
  metrics: { steps: number; epochs: number } | null;
}

/** A Lathe process's HTTP API as the fault suites use it: every answer with its status, body and time taken. */
export class LatheClient {
  constructor(readonly base: string) {}

  async call(path: string, init?: RequestInit): Promise<Timed> {
    const started = Date.now();
    const res = await fetch(`${this.base}${path}`, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    return { status: res.status, body, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started };
  }

  /** Uploads the three-topic training set (240 examples). */
  upload(): Promise<Timed> {
    const form = new FormData();
    form.append('purpose', 'fine-tune');
    form.append('file', new Blob([jsonl(topicExamples(80))]), 'topics.jsonl');
    return this.call('/v1/files', { method: 'POST', body: form });
  }

  embed(): Promise<Timed> {
    return this.call('/v1/embeddings', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'glove-100d', input: 'a quiet cat' }),
    });
  }

  createJob(trainingFile: string, epochs: number): Promise<Timed> {
    return this.call('/v1/fine_tuning/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'glove-100d',
        training_file: trainingFile,
        seed: 3,
        hyperparameters: { n_epochs: epochs, batch_size: 1 },
      }),
    });
  }

  finished(jobId: string, timeoutMs: number): Promise<FinishedJob> {
    return waitFor(
      async () => {
        const job = (await this.call(`/v1/fine_tuning/jobs/${jobId}`)).body as FinishedJob;
        return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
      },
      timeoutMs,
      `job ${jobId} to finish`,
    );
  }
}
