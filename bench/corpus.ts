// Real code already on the machine, for benchmarks: the Python standard library, Go's own
// sources, the JavaScript and TypeScript in node_modules, and the JDK's Java sources.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Language } from '../schemas/languages.js';

export interface BenchFile {
  path: string;
  language: Language;
  content: string;
}

function walk(root: string, accept: (path: string) => boolean, limit: number, out: string[] = []): string[] {
  if (out.length >= limit || !existsSync(root)) return out;
  let entries: string[];
  try {
    entries = readdirSync(root).sort();
  } catch {
    return out;
  }
  for (const name of entries) {
    if (out.length >= limit) break;
    const path = join(root, name);
    let info;
    try {
      info = statSync(path);
    } catch {
      continue;
    }
    if (info.isDirectory()) walk(path, accept, limit, out);
    else if (info.size > 0 && info.size < 200_000 && accept(path)) out.push(path);
  }
  return out;
}

function command(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export function pythonStdlib(): string | null {
  return command('python3', ['-c', 'import sysconfig; print(sysconfig.get_paths()["stdlib"])']);
}

/** Java sources from the JDK's src.zip, unpacked once into `cacheDir`. */
function javaSources(cacheDir: string): string | null {
  const target = join(cacheDir, 'jdk-src');
  if (existsSync(join(target, 'java.base'))) return target;
  // Any installed JDK's sources will do (Debian's src.zip may be a dangling link).
  const jvm = '/usr/lib/jvm';
  const zip = existsSync(jvm) ? readdirSync(jvm).map((d) => join(jvm, d, 'lib', 'src.zip')).find((z) => existsSync(z)) : undefined;
  if (!zip) return null;
  mkdirSync(target, { recursive: true });
  return command('unzip', ['-q', '-o', zip, 'java.base/java/util/*', 'java.base/java/io/*', '-d', target]) === null ? null : target;
}

/** Paths of up to `perLanguage` files of each language that the machine has. */
export function benchPaths(perLanguage: number, cacheDir: string): Array<{ path: string; language: Language }> {
  return corpusRoots(cacheDir).flatMap(([language, root, accept]) => (root ? walk(root, accept, perLanguage).map((path) => ({ path, language })) : []));
}

/**
 * A JSONL corpus of real files (one {"path","content","language"} per line), written one file
 * at a time so that building it does not hold the corpus in memory. Returns the line count.
 */
export function writeJsonlCorpus(target: string, perLanguage: number, cacheDir: string): number {
  const fd = openSync(target, 'w');
  let n = 0;
  try {
    for (const { path, language } of benchPaths(perLanguage, cacheDir)) {
      writeSync(fd, `${JSON.stringify({ path, content: readFileSync(path, 'utf8'), language })}\n`);
      n += 1;
    }
  } finally {
    closeSync(fd);
  }
  return n;
}

function corpusRoots(cacheDir: string): Array<[Language, string | null, (p: string) => boolean]> {
  return [
    ['python', pythonStdlib(), (p) => p.endsWith('.py') && !p.includes('/test')],
    ['go', command('go', ['env', 'GOROOT']) && join(command('go', ['env', 'GOROOT'])!, 'src'), (p) => p.endsWith('.go') && !p.includes('testdata')],
    ['javascript', 'node_modules', (p) => p.endsWith('.js') && !p.endsWith('.min.js')],
    ['typescript', 'node_modules', (p) => p.endsWith('.ts') && !p.endsWith('.d.ts')],
    ['java', javaSources(cacheDir), (p) => p.endsWith('.java')],
  ];
}

/** Up to `perLanguage` files of each language that the machine has. */
export function benchCorpus(perLanguage: number, cacheDir: string): BenchFile[] {
  return benchPaths(perLanguage, cacheDir).map(({ path, language }) => ({ path, language, content: readFileSync(path, 'utf8') }));
}
