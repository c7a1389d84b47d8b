// Online seed diversity: a file whose embedding lies within `radius` (cosine distance) of a
// file already accepted is rejected as a near-duplicate, so later stages, and the LLM calls
// they make, do not pay for the same code twice.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { Embedder } from '../embeddings/embedder.js';
import type { CodeFile } from '../schemas/contract.js';
import type { FileIndex } from '../stores/file-index.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const NEAR_DUPLICATE_STAGE = 'near-duplicate';

export interface NearDuplicateConfig {
  index: FileIndex;
  embedder: Embedder;
  /** Cosine distance (1 - similarity) within which a file counts as a near-duplicate; 0 disables. */
  radius: number;
}

export async function checkNearDuplicate(file: CodeFile, config: NearDuplicateConfig): Promise<Outcome<CodeFile>> {
  if (config.radius <= 0) return accept(file);
  const [vector] = await config.embedder.embed([file.content]);
  const nearest = config.index.nearest(vector!);
  if (nearest && 1 - nearest.similarity <= config.radius) {
    return reject({
      stage: NEAR_DUPLICATE_STAGE,
      reason: 'near-duplicate',
      detail: `within ${(1 - nearest.similarity).toFixed(4)} of ${nearest.path} (radius ${config.radius})`,
      recordId: file.id,
      path: file.path,
      source: file.source,
    });
  }
  config.index.add({ fileId: file.id, path: file.path }, vector!);
  return accept(file);
}

export function filterNearDuplicates(config: NearDuplicateConfig): OperatorFunction<CodeFile, Outcome<CodeFile>> {
  return concatMap(async (file) => {
    try {
      return await checkNearDuplicate(file, config);
    } catch (error) {
      return reject<CodeFile>({
        stage: NEAR_DUPLICATE_STAGE,
        reason: 'embedding-failed',
        detail: error instanceof Error ? error.message : String(error),
        recordId: file.id,
        path: file.path,
        source: file.source,
      });
    }
  });
}
