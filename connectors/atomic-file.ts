// A file written whole or not at all: readers (and a crash mid-write) never see half of it.
import { randomUUID } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ensureDirectory } from './out-dir.js';

export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await ensureDirectory(dirname(path));
  // A name of its own: two writers of one file never write into each other's temporary.
  const temp = `${path}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
