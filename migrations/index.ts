import { CreateInstances1764300000000 } from './1764300000000-create-instances.js';
import { CreateFineTuning1764400000000 } from './1764400000000-create-fine-tuning.js';
import { ChunkFeatureCache1764510000000 } from './1764510000000-chunk-feature-cache.js';
import { StoredContentSlices1764812000000 } from './1764812000000-stored-content-slices.js';

/** Every migration, oldest first. A new migration is one file here and one line in this list. */
export const MIGRATIONS = [
  CreateInstances1764300000000,
  CreateFineTuning1764400000000,
  ChunkFeatureCache1764510000000,
  StoredContentSlices1764812000000,
];
