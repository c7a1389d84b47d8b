// The bubblewrap command line of one run, and the host facts it needs.
//
// Isolation, and why each piece:
// - network: a new, empty network namespace (--unshare-net): only a loopback of its own, so
//   127.0.0.1 services of the host are as unreachable as the internet.
// - files: the host is mounted read-only (--ro-bind / /); the sample writes only to a tmpfs work
//   directory and a tmpfs /tmp, both size-capped and gone when the run ends. Home directories
//   (/root, /home) are replaced by empty tmpfs so keys and configs there cannot be read and
//   printed into the output; the interpreter's own directories are mounted back read-only.
// - processes: a new PID namespace whose init dies with bwrap (--die-with-parent), so killing
//   bwrap ends every process of the sample, forked or daemonised.
// - limits: prlimit sets RLIMIT_CPU, RLIMIT_DATA (memory: RLIMIT_AS would stop V8, which
//   reserves gigabytes of address space at start), RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_NOFILE and
//   RLIMIT_CORE. RLIMIT_NPROC counts per real uid and never applies to root, so as root the
//   sample runs as an unprivileged uid of its own (setpriv, one uid per concurrent slot, so one
//   sample's fork bomb does not starve another). As an ordinary user, bwrap makes a user
//   namespace, where the count starts from the sandbox's own processes.
import { execFile } from 'node:child_process';
import { access, constants, realpath } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { SOURCE_DIR, WORK_DIR } from './plan.js';
import type { SandboxLimits } from './types.js';

const run = promisify(execFile);

export interface HostTools {
  bwrap: string;
  prlimit: string;
  /** Needed as root to drop to an unprivileged uid. */
  setpriv: string | null;
  root: boolean;
  bwrapVersion: string;
}

export interface Runtime {
  /** The interpreter's real path (not a pyenv/asdf shim, which would need the home directory). */
  executable: string;
  /** Directories it needs; re-exposed when they lie under a hidden directory. */
  roots: string[];
  version: string;
}

/** An executable on PATH (or the given absolute path), or null. */
export async function which(name: string, path = process.env['PATH'] ?? '/usr/bin:/bin'): Promise<string | null> {
  const candidates = name.includes('/') ? [name] : [...path.split(delimiter).filter(Boolean), '/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => join(d, name));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return await realpath(c);
    } catch {
      // next
    }
  }
  return null;
}

export async function findHostTools(): Promise<HostTools> {
  const [bwrap, prlimit, setpriv] = await Promise.all([which('bwrap'), which('prlimit'), which('setpriv')]);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const install = 'install it with `apt-get install -y bubblewrap util-linux` (Debian/Ubuntu)';
  if (!bwrap) throw new Error(`bubblewrap (bwrap) is not installed: ${install}`);
  if (!prlimit) throw new Error(`prlimit is not installed: ${install}`);
  if (root && !setpriv) throw new Error(`setpriv is not installed (needed as root to drop to an unprivileged uid): ${install}`);
  const version = await run(bwrap, ['--version']).then((r) => r.stdout.trim(), () => 'bubblewrap (unknown version)');
  return { bwrap, prlimit, setpriv, root, bwrapVersion: version };
}

const PY_PROBE = "import json, os, sys; print(json.dumps({'exe': os.path.realpath(sys.executable), 'prefix': sys.prefix, 'base': sys.base_prefix, 'version': sys.version.split()[0]}))";

/** Resolves the host's Python (trusted code of ours; the sample never runs outside the sandbox). */
export async function resolvePython(command: string): Promise<Runtime> {
  const exe = await which(command);
  if (!exe) throw new Error(`${command} not found on PATH`);
  const { stdout } = await run(exe, ['-c', PY_PROBE], { timeout: 15_000 });
  const info = JSON.parse(stdout) as { exe: string; prefix: string; base: string; version: string };
  const roots = await Promise.all([info.base, info.prefix, dirname(info.exe)].map((p) => realpath(p).catch(() => p)));
  return { executable: info.exe, roots: [...new Set(roots)], version: `Python ${info.version}` };
}

export async function resolveNode(command: string): Promise<Runtime> {
  const exe = await which(command);
  if (!exe) throw new Error(`${command} not found`);
  const version = exe === (await realpath(process.execPath)) ? process.version : (await run(exe, ['--version'])).stdout.trim();
  return { executable: exe, roots: [dirname(dirname(exe))], version: `Node ${version}` };
}

export interface BwrapSpec {
  tools: HostTools;
  limits: SandboxLimits;
  /** Host directory with the staged files, mounted read-only at SOURCE_DIR. */
  hostDir: string;
  /** Directories replaced by empty tmpfs. */
  hidden: readonly string[];
  /** Runtime directories mounted back read-only when under a hidden directory. */
  runtimeRoots: readonly string[];
  /** As root: the uid (and gid) the sample runs as. */
  uid: number;
  env: Readonly<Record<string, string>>;
  /** Copy SOURCE_DIR into the writable WORK_DIR and run there; else run in SOURCE_DIR. */
  stage: boolean;
  command: readonly string[];
}

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

export function bwrapArgs(spec: BwrapSpec): string[] {
  const { tools, limits } = spec;
  const size = String(limits.diskBytes);
  const args: string[] = [
    tools.bwrap,
    '--unshare-net', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--die-with-parent', '--new-session', '--hostname', 'sandbox',
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--perms', '1777', '--size', size, '--tmpfs', '/tmp',
    '--perms', '1777', '--size', String(Math.min(limits.diskBytes, 16 * 1024 * 1024)), '--tmpfs', '/dev/shm',
  ];
  for (const dir of spec.hidden) args.push('--perms', '0755', '--tmpfs', dir);
  const made = new Set<string>();
  // A root inside another root comes along with it.
  const roots = spec.runtimeRoots.filter((r) => !spec.runtimeRoots.some((o) => o !== r && under(r, o)));
  for (const root of roots) {
    const hidden = spec.hidden.find((h) => under(root, h) && root !== h);
    if (!hidden) continue;
    // bwrap creates missing parents 0700; the unprivileged uid must be able to walk through them.
    const parts = root.slice(hidden.length + 1).split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = `${hidden}/${parts.slice(0, i).join('/')}`;
      if (!made.has(dir)) args.push('--perms', '0755', '--dir', dir);
      made.add(dir);
    }
    args.push('--ro-bind', root, root);
  }
  args.push('--ro-bind', spec.hostDir, SOURCE_DIR);
  if (spec.stage) args.push('--perms', '1777', '--size', size, '--tmpfs', WORK_DIR);
  args.push('--chdir', spec.stage ? WORK_DIR : SOURCE_DIR, '--clearenv');
  for (const [k, v] of Object.entries(spec.env)) args.push('--setenv', k, v);
  if (tools.root) args.push('--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID');
  else args.push('--unshare-user', '--disable-userns');
  args.push('--');

  const mb = Math.ceil(limits.cpuSeconds);
  args.push(
    tools.prlimit,
    `--cpu=${mb}:${mb + 1}`,
    `--data=${limits.memoryBytes}`,
    `--nproc=${limits.maxProcesses}`,
    `--fsize=${limits.fileBytes}`,
    '--nofile=1024',
    '--core=0',
    '--',
  );
  if (tools.root) {
    args.push(tools.setpriv!, `--reuid=${spec.uid}`, `--regid=${spec.uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--');
  }
  // The copy runs as the sample's uid, so the sample owns (and may change) its own files.
  if (spec.stage) args.push('/bin/sh', '-c', `cp -R ${SOURCE_DIR}/. ${WORK_DIR}/ && exec "$@"`, 'sh');
  args.push(...spec.command);
  return args;
}
