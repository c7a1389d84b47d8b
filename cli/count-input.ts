// The total for a progress bar: files in a directory (paths only, no contents) or bytes of a
// JSONL file. Only on a terminal, where a bar is drawn.
import { stat } from 'node:fs/promises';
import { listDirectory } from '../connectors/directory-source.js';

export async function countInput(input: string, isDirectory: boolean, maxFiles?: number): Promise<{ total: number; unit: 'files' | 'bytes' } | null> {
  if (!isDirectory) {
    const info = await stat(input);
    return /\.(jsonl|ndjson)$/i.test(input) ? { total: info.size, unit: 'bytes' } : null;
  }
  let n = 0;
  for await (const _ of listDirectory(input)) {
    n += 1;
    if (maxFiles !== undefined && n >= maxFiles) break;
  }
  return { total: n, unit: 'files' };
}
