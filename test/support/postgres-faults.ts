import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Faults for one test-owned PostgreSQL cluster. Every signal goes to the postmaster named in THIS
 * cluster's postmaster.pid (checked against its command line) and to its own children, never to
 * another server on the machine.
 */
export async function postmasterOf(clusterDir: string): Promise<number> {
  const pid = Number.parseInt((await readFile(join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '', 10);
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  if (!cmdline.some((a) => a.includes('postgres')) || !cmdline.includes(clusterDir)) {
    throw new Error(`process ${pid} named in ${clusterDir}/postmaster.pid is not that cluster's postmaster`);
  }
  return pid;
}

/** The postmaster's child processes (backends, checkpointer, walwriter...). */
export async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const list = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    children.push(...list.split(/\s+/).filter(Boolean).map(Number));
  }
  return children;
}

/**
 * SIGSTOPs the cluster's postmaster, then its children (a stopped postmaster forks no more), the
 * way a stalled host or a long GC-like pause looks from outside. Returns the thaw, which SIGCONTs
 * the same processes; call it in a `finally`.
 */
export async function freezePostgres(clusterDir: string): Promise<() => void> {
  const postmaster = await postmasterOf(clusterDir);
  process.kill(postmaster, 'SIGSTOP');
  const stopped = [postmaster];
  try {
    for (const child of await childrenOf(postmaster)) {
      process.kill(child, 'SIGSTOP');
      stopped.push(child);
    }
  } catch (err) {
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
    throw err;
  }
  let thawed = false;
  return () => {
    if (thawed) return;
    thawed = true;
    for (const pid of stopped.reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // A child that exited meanwhile.
      }
    }
  };
}

/** One query on the cluster of a Lathe started with LATHE_DATA_DIR=dataDir (its superuser password is kept there). */
export async function embeddedQuery<T extends pg.QueryResultRow>(
  dataDir: string,
  port: number,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const password = (await readFile(join(dataDir, 'postgres.password'), 'utf8')).trim();
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'lathe' });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export type Query = <T extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<T[]>;

/**
 * A fine-tuning job that rode out a fault finished exactly once: one model and head, every step and
 * epoch recorded once, no event written twice, no checkpoint saved twice, its queue message completed.
 */
export async function assertTrainedOnce(query: Query, jobId: string, steps: number, epochs: number): Promise<void> {
  assert.deepEqual(await query('SELECT job_id FROM fine_tuned_models'), [{ job_id: jobId }]);
  assert.deepEqual(await query(`SELECT count(*)::int AS n FROM artifacts WHERE kind = 'head'`), [{ n: 1 }]);
  // Every checkpoint artifact belongs to a checkpoint row: no save landed twice.
  assert.deepEqual(
    await query(
      `SELECT count(*)::int AS n FROM artifacts a WHERE kind = 'checkpoint' AND NOT EXISTS (SELECT 1 FROM fine_tuning_checkpoints c WHERE c.artifact_id = a.id)`,
    ),
    [{ n: 0 }],
  );
  const numbers = async (kind: 'step' | 'epoch') =>
    (
      await query<{ number: number }>(`SELECT number FROM fine_tuning_metrics WHERE job_id = $1 AND kind = $2 ORDER BY number`, [
        jobId,
        kind,
      ])
    ).map((r) => r.number);
  assert.deepEqual(
    await numbers('step'),
    Array.from({ length: steps }, (_, i) => i + 1),
  );
  assert.deepEqual(
    await numbers('epoch'),
    Array.from({ length: epochs }, (_, i) => i + 1),
  );
  assert.deepEqual(
    await query(`SELECT message FROM fine_tuning_events WHERE job_id = $1 GROUP BY message HAVING count(*) > 1`, [jobId]),
    [],
    'no event was written twice',
  );
  assert.deepEqual(await query(`SELECT DISTINCT state FROM pgboss.job WHERE name = 'lathe-fine-tuning'`), [{ state: 'completed' }]);
}
