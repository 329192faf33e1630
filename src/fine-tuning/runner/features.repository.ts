import { Injectable } from '@nestjs/common';
import { FineTuningDb } from '../fine-tuning-db.js';

export interface CachedFeatures {
  rows: number;
  dim: number;
  tokens: number;
  /** rows × dim, row-major. */
  features: Float32Array;
}

/** Backbone features per (dataset sha256, backbone sha256): a second job on the same data skips the backbone. */
@Injectable()
export class FeaturesRepository {
  constructor(private readonly db: FineTuningDb) {}

  async find(datasetSha256: string, backboneSha256: string): Promise<CachedFeatures | undefined> {
    const [row] = await this.db.rows<{ rows: number; dim: number; tokens: string; features: Buffer }>(
      `SELECT "rows", "dim", "tokens", "features" FROM "fine_tuning_features" WHERE "dataset_sha256" = $1 AND "backbone_sha256" = $2`,
      [datasetSha256, backboneSha256],
    );
    if (!row) return undefined;
    // A copy: Buffers from the driver may sit at an offset that is not a multiple of 4 in a shared pool.
    const features = new Float32Array(row.rows * row.dim);
    new Uint8Array(features.buffer).set(row.features);
    return { rows: row.rows, dim: row.dim, tokens: Number(row.tokens), features };
  }

  /** Two jobs may compute the same features at once; the first to finish is kept. */
  async save(datasetSha256: string, backboneSha256: string, cached: CachedFeatures): Promise<void> {
    await this.db.rows(
      `INSERT INTO "fine_tuning_features" ("dataset_sha256", "backbone_sha256", "rows", "dim", "tokens", "features") VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING`,
      [datasetSha256, backboneSha256, cached.rows, cached.dim, cached.tokens, Buffer.from(cached.features.buffer, cached.features.byteOffset, cached.features.byteLength)],
    );
  }
}
