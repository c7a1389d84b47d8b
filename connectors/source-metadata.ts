// Where a corpus's files come from, as far as the corpus itself says: the repository (its git
// remote, read from the local config, never the network) and the licence (a LICENSE/COPYING
// file at the corpus root, else at the root of the checkout it lies in, named by SPDX id).
// Either is null when the corpus does not say; samples carry both in their lineage.
import { execFile } from 'node:child_process';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { identifyLicence } from '../lib/licence.js';

export interface SourceMetadata {
  repository: string | null;
  license: string | null;
}

export const NO_METADATA: SourceMetadata = Object.freeze({ repository: null, license: null });

/** Names a licence file goes by, compared without case; the first one present is read. */
export const LICENCE_FILE_NAMES = ['license', 'license.md', 'license.txt', 'licence', 'licence.md', 'licence.txt', 'copying', 'copying.md', 'copying.txt'] as const;

/** Licence texts are a few KB; reading more than this of a file named LICENSE is never needed. */
const MAX_LICENCE_BYTES = 64 * 1024;

/** Repository URLs and names are short; longer metadata is not a repository or licence name. */
export const MAX_METADATA_CHARS = 500;

/** A remote URL without credentials (`https://user:token@host/...` → `https://host/...`): lineage is published with samples. */
export function redactRemote(url: string): string {
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*:\/\/)([^/@]*@)?(.*)$/i.exec(trimmed);
  if (scheme) return `${scheme[1]}${scheme[3]}`;
  return trimmed;
}

/** Runs git in `dir`; its trimmed stdout, or null when git fails, is missing, or `dir` is no checkout. */
function git(dir: string, args: readonly string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { timeout: 10_000, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 1 << 20 }, (error, stdout) => {
      const out = typeof stdout === 'string' ? stdout.trim() : '';
      resolve(error || out === '' ? null : out);
    });
  });
}

/** The SPDX id of the licence file in `dir`, or null (no such file, unreadable, or not a common licence). */
export async function licenceIn(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  for (const wanted of LICENCE_FILE_NAMES) {
    const name = names.find((n) => n.toLowerCase() === wanted);
    if (name === undefined) continue;
    try {
      const handle = await open(join(dir, name), 'r');
      try {
        if (!(await handle.stat()).isFile()) continue;
        const buffer = Buffer.alloc(MAX_LICENCE_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, MAX_LICENCE_BYTES, 0);
        return identifyLicence(buffer.toString('utf8', 0, bytesRead));
      } finally {
        await handle.close();
      }
    } catch {
      return null;
    }
  }
  return null;
}

/** Repository and licence of a corpus directory (work tree). */
export async function directoryMetadata(root: string): Promise<SourceMetadata> {
  const remote = await git(root, ['config', '--get', 'remote.origin.url']);
  let license = await licenceIn(root);
  if (license === null) {
    const top = await git(root, ['rev-parse', '--show-toplevel']);
    if (top !== null) license = await licenceIn(top);
  }
  return { repository: remote === null ? null : redactRemote(remote).slice(0, MAX_METADATA_CHARS), license };
}

/** Repository and licence of commit `ref` of the repository at `repoDir`: the licence file at that commit's root. */
export async function gitTreeMetadata(repoDir: string, ref: string): Promise<SourceMetadata> {
  const remote = await git(repoDir, ['config', '--get', 'remote.origin.url']);
  const listing = await git(repoDir, ['ls-tree', '--name-only', ref]);
  let license: string | null = null;
  const names = listing?.split('\n') ?? [];
  for (const wanted of LICENCE_FILE_NAMES) {
    const name = names.find((n) => n.toLowerCase() === wanted);
    if (name === undefined) continue;
    const text = await git(repoDir, ['cat-file', 'blob', `${ref}:${name}`]);
    license = text === null ? null : identifyLicence(text.slice(0, MAX_LICENCE_BYTES));
    break;
  }
  return { repository: remote === null ? null : redactRemote(remote).slice(0, MAX_METADATA_CHARS), license };
}
