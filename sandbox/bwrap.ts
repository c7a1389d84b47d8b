// The bubblewrap command line of one run, and the host facts it needs.
//
// Isolation, and why each piece:
// - network: a new, empty network namespace (--unshare-net): only a loopback of its own, so
//   127.0.0.1 services of the host are as unreachable as the internet, and abstract Unix sockets
//   (which belong to the network namespace) too.
// - files: nothing of the host is there unless named: /usr (the system's programs and
//   libraries) and the dynamic linker's files from /etc, the runtime's own directories, the
//   harness and the sample's files, all read-only. No home directory, no project, no /run or
//   /var, so no host Unix socket file is reachable (a socket on a read-only mount still accepts
//   connections, so hiding is the only defence). The sample writes only to a tmpfs work
//   directory and a tmpfs /tmp, both size-capped and gone when the run ends; its test files are
//   mounted read-only inside the work directory.
// - processes: a new PID namespace whose init dies with bwrap (--die-with-parent), so killing
//   bwrap ends every process of the sample, forked or daemonised.
// - system calls: a seccomp filter (sandbox/seccomp.ts) refuses new user namespaces, so the
//   sample cannot become root of a namespace of its own, plus kernel interfaces no test needs.
// - limits: prlimit sets RLIMIT_CPU, RLIMIT_DATA (memory: RLIMIT_AS would stop V8, which
//   reserves gigabytes of address space at start), RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_NOFILE and
//   RLIMIT_CORE. RLIMIT_NPROC counts per real uid and never applies to root, so as root the
//   sample runs as an unprivileged uid of its own (setpriv, one uid per concurrent slot, so one
//   sample's fork bomb does not starve another). As an ordinary user, bwrap makes a user
//   namespace, where the count starts from the sandbox's own processes. Limits for the whole
//   run (all its processes together) come from a cgroup where the machine has one (cgroup.ts).
import { execFile } from 'node:child_process';
import { access, constants, lstat, readlink, realpath } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { WORK_DIR } from './plan.js';
import type { SandboxLimits } from './types.js';

const run = promisify(execFile);

export interface HostTools {
  bwrap: string;
  prlimit: string;
  /** Needed as root to drop to an unprivileged uid. */
  setpriv: string | null;
  root: boolean;
  bwrapVersion: string;
  /** How the system's programs and libraries appear in the sandbox (the host's own layout). */
  system: SystemMount[];
}

export type SystemMount = { kind: 'bind'; path: string } | { kind: 'symlink'; path: string; target: string };

/** /usr and the top-level links or directories into it (merged or split /usr), as on the host. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** What the dynamic linker and libc read from /etc; nothing else of /etc is needed. */
const SYSTEM_ETC = ['/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/localtime', '/etc/alternatives'];

async function systemLayout(): Promise<SystemMount[]> {
  const mounts: SystemMount[] = [];
  for (const path of [...SYSTEM_DIRS, ...SYSTEM_ETC]) {
    const info = await lstat(path).catch(() => null);
    if (!info) continue;
    if (info.isSymbolicLink()) mounts.push({ kind: 'symlink', path, target: await readlink(path) });
    else mounts.push({ kind: 'bind', path });
  }
  return mounts;
}

export interface Runtime {
  /** The interpreter's real path (not a pyenv/asdf shim, which would need the home directory). */
  executable: string;
  /** Directories it needs; re-exposed when they lie under a hidden directory. */
  roots: string[];
  version: string;
  /** Python: its standard library's top-level modules (sys.stdlib_module_names); empty for Node. */
  stdlib: ReadonlySet<string>;
  /** Python: `3.11`, the version installed packages are built for; empty for Node. */
  abi: string;
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
  return { bwrap, prlimit, setpriv, root, bwrapVersion: version, system: await systemLayout() };
}

const PY_PROBE = "import json, os, sys; print(json.dumps({'exe': os.path.realpath(sys.executable), 'prefix': sys.prefix, 'base': sys.base_prefix, 'version': sys.version.split()[0], 'abi': '%d.%d' % sys.version_info[:2], 'stdlib': sorted(getattr(sys, 'stdlib_module_names', ()))}))";

/** Resolves the host's Python (trusted code of ours; the sample never runs outside the sandbox). */
export async function resolvePython(command: string): Promise<Runtime> {
  const exe = await which(command);
  if (!exe) throw new Error(`${command} not found on PATH`);
  const { stdout } = await run(exe, ['-c', PY_PROBE], { timeout: 15_000 });
  const info = JSON.parse(stdout) as { exe: string; prefix: string; base: string; version: string; abi: string; stdlib: string[] };
  // sys.stdlib_module_names is 3.10+; an older Python's imports can only be judged when they run.
  if (info.stdlib.length === 0) throw new Error(`${exe} is Python ${info.version}; the sandbox needs Python 3.10 or later (sys.stdlib_module_names)`);
  const roots = await Promise.all([info.base, info.prefix, dirname(info.exe)].map((p) => realpath(p).catch(() => p)));
  return { executable: info.exe, roots: [...new Set(roots)], version: `Python ${info.version}`, stdlib: new Set(info.stdlib), abi: info.abi };
}

export async function resolveNode(command: string): Promise<Runtime> {
  const exe = await which(command);
  if (!exe) throw new Error(`${command} not found`);
  const version = exe === (await realpath(process.execPath)) ? process.version : (await run(exe, ['--version'])).stdout.trim();
  return { executable: exe, roots: [dirname(dirname(exe))], version: `Node ${version}`, stdlib: new Set(), abi: '' };
}

export interface Mount {
  host: string;
  /** Where it appears in the sandbox. */
  at: string;
}

export interface BwrapSpec {
  tools: HostTools;
  limits: SandboxLimits;
  /** Runtime directories (interpreter, standard library, installed packages), read-only at their host paths. */
  runtimeRoots: readonly string[];
  /** Further host directories, read-only (the harness, the sample's files). */
  binds: readonly Mount[];
  /** Copied into the writable WORK_DIR before the command runs (null: nothing to copy). */
  copyFrom: string | null;
  /** Directories made inside WORK_DIR, writable by the sample (those holding read-only files). */
  workDirs: readonly string[];
  /** Host files mounted read-only inside WORK_DIR (the tests: the sample cannot change them). */
  readOnlyFiles: readonly Mount[];
  /** Directories made inside WORK_DIR that the sample can neither write into nor remove. */
  lockedDirs: readonly string[];
  /** As root: the uid (and gid) the sample runs as. */
  uid: number;
  env: Readonly<Record<string, string>>;
  /** A seccomp program is on fd 3. */
  seccomp: boolean;
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
  ];
  // /etc holds only what the dynamic linker and libc read; made first so it is 0755, not bwrap's 0700.
  if (tools.system.some((m) => m.path.startsWith('/etc/'))) args.push('--perms', '0755', '--dir', '/etc');
  for (const m of tools.system) {
    if (m.kind === 'symlink') args.push('--symlink', m.target, m.path);
    else args.push('--ro-bind', m.path, m.path);
  }
  args.push(
    '--dev', '/dev',
    '--proc', '/proc',
    '--perms', '1777', '--size', size, '--tmpfs', '/tmp',
    '--perms', '1777', '--size', String(Math.min(limits.diskBytes, 16 * 1024 * 1024)), '--tmpfs', '/dev/shm',
  );
  const visible = tools.system.filter((m) => m.kind === 'bind').map((m) => m.path);
  const made = new Set<string>(['/', '/tmp', '/dev', '/proc']);
  // Parents made here are 0755, so the unprivileged uid can walk through them to the mount.
  const parents = (path: string): void => {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (made.has(dir) || visible.some((v) => under(dir, v))) continue;
      args.push('--perms', '0755', '--dir', dir);
      made.add(dir);
    }
  };
  // A root inside another root, or inside /usr, comes along with it.
  const roots = spec.runtimeRoots.filter((r) => !visible.some((v) => under(r, v)) && !spec.runtimeRoots.some((o) => o !== r && under(r, o)));
  for (const root of [...roots].sort()) {
    parents(root);
    args.push('--ro-bind', root, root);
  }
  for (const b of spec.binds) {
    parents(b.at);
    args.push('--ro-bind', b.host, b.at);
  }
  args.push('--perms', '1777', '--size', size, '--tmpfs', WORK_DIR);
  for (const dir of spec.workDirs) args.push('--perms', '1777', '--dir', `${WORK_DIR}/${dir}`);
  for (const f of spec.readOnlyFiles) args.push('--ro-bind', f.host, f.at);
  // Owned by root and 0555 inside a sticky directory: not writable, not removable, not renamable.
  for (const dir of spec.lockedDirs) args.push('--perms', '0555', '--dir', `${WORK_DIR}/${dir}`);
  args.push('--chdir', WORK_DIR, '--clearenv');
  for (const [k, v] of Object.entries(spec.env)) args.push('--setenv', k, v);
  if (spec.seccomp) args.push('--seccomp', '3');
  if (tools.root) args.push('--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID');
  else args.push('--unshare-user', '--disable-userns');
  args.push('--');

  const cpu = Math.ceil(limits.cpuSeconds);
  args.push(
    tools.prlimit,
    `--cpu=${cpu}:${cpu + 1}`,
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
  // The copy runs as the sample's uid, so the sample owns (and may change) its own files; cp
  // does not follow into the read-only test files, which are not in copyFrom.
  if (spec.copyFrom) args.push('/bin/sh', '-c', `cp -R '${spec.copyFrom}/.' '${WORK_DIR}/' && exec "$@"`, 'sh');
  args.push(...spec.command);
  return args;
}
