// The orchestration bench's Python peer (bench/semaphore-client.py) runs in a virtual environment
// of its own under the bench's cache, installed from bench/python-peer-requirements.txt the first
// time and again only when that file changes. treesynth does not need it, so ./setup.sh does not
// install it; a machine without Python 3 or without PyPI skips the peer with the reason.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export type PythonPeer = { python: string; script: string } | { skipped: string };

const requirements = new URL('../../bench/python-peer-requirements.txt', import.meta.url).pathname;
const script = new URL('../../bench/semaphore-client.py', import.meta.url).pathname;

export async function ensurePythonPeer(cacheDir: string, log: (line: string) => void): Promise<PythonPeer> {
  const dir = join(cacheDir, 'python-peer');
  const python = join(dir, 'bin', 'python');
  const marker = join(dir, 'requirements.sha256');
  const want = createHash('sha256').update(readFileSync(requirements)).digest('hex');
  if (existsSync(python) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === want) return { python, script };
  log(`orchestration: installing the Python peer (${readFileSync(requirements, 'utf8').match(/^openai==\S+/m)?.[0] ?? 'openai'}) into ${dir}`);
  try {
    rmSync(dir, { recursive: true, force: true });
    await exec('python3', ['-m', 'venv', dir], { timeout: 120_000 });
    await exec(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--only-binary', ':all:', '-r', requirements], { timeout: 600_000, maxBuffer: 1 << 24 });
    writeFileSync(marker, `${want}\n`);
    return { python, script };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const detail = (error as { stderr?: string }).stderr?.trim().split('\n').pop() ?? (error as Error).message;
    return { skipped: `the Python peer could not be installed (${detail})` };
  }
}
