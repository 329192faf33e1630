import type { ServerCommand } from './server-args.js';
import { describeUpload, isoSeconds, uploadFile } from './files.command.js';
import type { ServerClient } from './server-client.js';
import { formatTable } from './table.js';

export type CreateJobCommand = Extract<ServerCommand, { kind: 'jobs-create' }>;

/** The parts of the server's fine-tuning job object the CLI shows. */
export interface JobObject {
  id: string;
  model: string;
  status: string;
  created_at: number;
  finished_at: number | null;
  fine_tuned_model: string | null;
  training_file: string;
  error?: { code?: string; message?: string } | null;
  metrics?: Record<string, number> | null;
}

/** A file id as the server makes them; anything else is a local dataset to upload first. */
const FILE_ID = /^file-[0-9a-f]{24}$/;

/** `lathe jobs create`: uploads local datasets, then POST /v1/fine_tuning/jobs. */
export async function createJob(server: ServerClient, cmd: CreateJobCommand, log: (line: string) => void): Promise<JobObject> {
  const fileId = async (value: string) => {
    if (FILE_ID.test(value)) return value;
    const file = await uploadFile(server, value, 'fine-tune');
    log(describeUpload(file).trimEnd());
    return file.id;
  };
  const body = {
    model: cmd.model,
    training_file: await fileId(cmd.trainingFile),
    ...(cmd.validationFile ? { validation_file: await fileId(cmd.validationFile) } : {}),
    ...(cmd.suffix ? { suffix: cmd.suffix } : {}),
    ...(Object.keys(cmd.hyperparameters).length > 0 ? { hyperparameters: cmd.hyperparameters } : {}),
  };
  return server.json<JobObject>('POST', '/v1/fine_tuning/jobs', body);
}

export async function listJobs(server: ServerClient, limit?: number): Promise<JobObject[]> {
  const query = limit ? `?limit=${limit}` : '';
  return (await server.json<{ data: JobObject[] }>('GET', `/v1/fine_tuning/jobs${query}`)).data;
}

export function formatJobs(jobs: JobObject[]): string {
  if (jobs.length === 0) return 'no fine-tuning jobs\n';
  return formatTable([
    ['ID', 'MODEL', 'STATUS', 'CREATED', 'FINE-TUNED MODEL'],
    ...jobs.map((j) => [j.id, j.model, j.status, isoSeconds(j.created_at), j.fine_tuned_model ?? '-']),
  ]);
}
