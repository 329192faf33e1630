/** OpenAI's job states and the moves between them; anything else is a 409. */
export const JOB_STATUSES = ['validating_files', 'queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * running -> queued is a hand-back: the replica running the job is shutting down, or it stopped
 * (its lease lapsed) and another replica resumes the job from its last checkpoint.
 */
const MOVES: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  validating_files: ['queued', 'failed', 'cancelled'],
  queued: ['running', 'failed', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled', 'queued'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export const ACTIVE_STATUSES: readonly JobStatus[] = ['validating_files', 'queued', 'running'];

export function canMove(from: JobStatus, to: JobStatus): boolean {
  return MOVES[from].includes(to);
}

/** States a move to `to` may start from, for conditional UPDATEs. */
export function sourcesOf(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canMove(from, to));
}

export function isTerminal(status: JobStatus): boolean {
  return MOVES[status].length === 0;
}
