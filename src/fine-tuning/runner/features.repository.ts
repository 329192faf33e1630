import { Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { FineTuningDb } from '../fine-tuning-db.js';

export interface CachedFeatures {
  rows: number;
  dim: number;
  tokens: number;
  /** rows × dim, row-major. */
  features: Float32Array;
}

/**
 * Backbone features per (dataset sha256, backbone sha256): a second job on the same data skips the
 * backbone. An entry is a header row plus chunks of LATHE_FEATURES_CHUNK_BYTES, each written and
 * read by its own statement: pg-protocol reads a bytea as one hex string, and one over 512 MB
 * cannot be read at all.
 */
@Injectable()
export class FeaturesRepository {
  private readonly chunkBytes: number;

  constructor(
    private readonly db: FineTuningDb,
    @InjectConfig() config: AppConfig,
  ) {
    // Whole floats per chunk, so a chunk never splits one.
    this.chunkBytes = Math.max(4, Math.floor(config.fineTuning.featuresChunkBytes / 4) * 4);
  }

  async find(datasetSha256: string, backboneSha256: string): Promise<CachedFeatures | undefined> {
    const [row] = await this.db.rows<{ rows: number; dim: number; tokens: string; chunks: number }>(
      `SELECT "rows", "dim", "tokens", "chunks" FROM "fine_tuning_features" WHERE "dataset_sha256" = $1 AND "backbone_sha256" = $2`,
      [datasetSha256, backboneSha256],
    );
    if (!row) return undefined;
    const features = new Float32Array(row.rows * row.dim);
    const bytes = new Uint8Array(features.buffer);
    let offset = 0;
    for (let chunk = 0; chunk < row.chunks; chunk += 1) {
      const [part] = await this.db.rows<{ data: Buffer }>(
        `SELECT "data" FROM "fine_tuning_feature_chunks" WHERE "dataset_sha256" = $1 AND "backbone_sha256" = $2 AND "chunk" = $3`,
        [datasetSha256, backboneSha256, chunk],
      );
      // A missing or misfit chunk: treat the entry as absent (the features are computed again).
      if (!part || offset + part.data.length > bytes.length) return undefined;
      bytes.set(part.data, offset);
      offset += part.data.length;
    }
    return offset === bytes.length ? { rows: row.rows, dim: row.dim, tokens: Number(row.tokens), features } : undefined;
  }

  /** Two jobs may compute the same features at once; the first to commit is kept and the other writes nothing. */
  async save(datasetSha256: string, backboneSha256: string, cached: CachedFeatures): Promise<void> {
    const bytes = new Uint8Array(cached.features.buffer, cached.features.byteOffset, cached.features.byteLength);
    const chunks = Math.ceil(bytes.length / this.chunkBytes);
    await this.db.transaction(async (tx) => {
      const inserted = await tx.rows(
        `INSERT INTO "fine_tuning_features" ("dataset_sha256", "backbone_sha256", "rows", "dim", "tokens", "chunks") VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING RETURNING 1`,
        [datasetSha256, backboneSha256, cached.rows, cached.dim, cached.tokens, chunks],
      );
      if (inserted.length === 0) return;
      for (let chunk = 0; chunk < chunks; chunk += 1) {
        const part = bytes.subarray(chunk * this.chunkBytes, (chunk + 1) * this.chunkBytes);
        await tx.rows(
          `INSERT INTO "fine_tuning_feature_chunks" ("dataset_sha256", "backbone_sha256", "chunk", "data") VALUES ($1, $2, $3, $4)`,
          [datasetSha256, backboneSha256, chunk, Buffer.from(part.buffer, part.byteOffset, part.byteLength)],
        );
      }
    });
  }
}
