// One cgroup per sample run, so memory and processes are capped for the whole sample rather than
// per process: RLIMIT_DATA and RLIMIT_NPROC alone let twelve processes take 400 MB each, and a
// shared anonymous mapping is not data at all. cgroup v2 when the hierarchy we live in can give
// us memory and pids; else cgroup v1's memory and pids hierarchies (hybrid machines); else none,
// and the sandbox says so and keeps the per-process limits only.
//
// The run's command is wrapped so the process joins its cgroup before it execs bubblewrap:
// everything the sample starts is born inside, with no window where it could fork outside.
import { mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupLimits {
  memoryBytes: number;
  maxProcesses: number;
}

/** What the kernel counted for one run. */
export interface CgroupUsage {
  /** Highest memory use of the whole run (null when the kernel does not keep it). */
  memoryPeakBytes: number | null;
  /** The kernel killed a process of the run for memory (OOM inside the cgroup). */
  memoryLimitHit: boolean;
  /** A fork or thread was refused at the process limit. */
  processLimitHit: boolean;
}

export interface RunCgroup {
  /** The command, run inside this cgroup. */
  wrap(argv: readonly string[]): string[];
  usage(): Promise<CgroupUsage>;
  /** Kills whatever is left inside and removes the cgroup. */
  remove(): Promise<void>;
}

interface Hierarchies {
  version: 2 | 1;
  /** v2: the one directory; v1: the memory and the pids directory. */
  memory: string;
  pids: string;
}

export interface Mount {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** /proc/self/mountinfo, the fields we need. */
export function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fsType, , superOptions] = right.split(' ');
    if (fields.length < 5 || !fsType) continue;
    const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    mounts.push({ root: unescape(fields[3]!), mountPoint: unescape(fields[4]!), fsType, superOptions: (superOptions ?? '').split(',') });
  }
  return mounts;
}

/** /proc/self/cgroup: hierarchy controllers ('' for v2) → our path in it. */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match) paths.set(match[1]!, match[2]!);
  }
  return paths;
}

/** The directory of our own cgroup in a mounted hierarchy, or null when that part is not mounted here. */
function directoryOf(mount: Mount, path: string): string | null {
  const root = mount.root === '/' ? '' : mount.root;
  if (root && path !== root && !path.startsWith(`${root}/`)) return null;
  return join(mount.mountPoint, path.slice(root.length));
}

const readText = (path: string): Promise<string | null> => readFile(path, 'utf8').then((t) => t, () => null);
const exists = async (path: string): Promise<boolean> => (await readText(path)) !== null;

/** `key value` lines (memory.events, pids.events, memory.oom_control) as numbers. */
function keyed(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

/** Makes and removes a scratch child, which is the only proof that we may. */
async function writable(dir: string): Promise<boolean> {
  const probe = join(dir, `treesynth-probe-${process.pid}`);
  try {
    await mkdir(probe);
    await rmdir(probe);
    return true;
  } catch {
    return false;
  }
}

async function detectV2(mounts: Mount[], paths: Map<string, string>): Promise<Hierarchies | string> {
  const mount = mounts.find((m) => m.fsType === 'cgroup2');
  const path = paths.get('');
  if (!mount || path === undefined) return 'no cgroup v2 hierarchy';
  const dir = directoryOf(mount, path);
  if (!dir) return 'our cgroup v2 is not mounted here';
  const controllers = ((await readText(join(dir, 'cgroup.controllers'))) ?? '').split(/\s+/);
  if (!controllers.includes('memory') || !controllers.includes('pids')) return `cgroup v2 offers no memory and pids controllers here (only: ${controllers.filter(Boolean).join(', ') || 'none'})`;
  const enabled = ((await readText(join(dir, 'cgroup.subtree_control'))) ?? '').split(/\s+/);
  if (!enabled.includes('memory') || !enabled.includes('pids')) {
    // Works where we may delegate (the root cgroup, or one of ours without processes of its own).
    try {
      await writeFile(join(dir, 'cgroup.subtree_control'), '+memory +pids');
    } catch (error) {
      return `cannot enable memory and pids for child cgroups of ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    }
  }
  if (!(await writable(dir))) return `cannot create cgroups under ${dir}`;
  return { version: 2, memory: dir, pids: dir };
}

async function detectV1(mounts: Mount[], paths: Map<string, string>): Promise<Hierarchies | string> {
  const find = (controller: string): string | null => {
    const mount = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes(controller));
    const entry = [...paths.entries()].find(([controllers]) => controllers.split(',').includes(controller));
    return mount && entry ? directoryOf(mount, entry[1]) : null;
  };
  const memory = find('memory');
  const pids = find('pids');
  if (!memory || !pids) return 'no cgroup v1 memory and pids hierarchies';
  if (!(await writable(memory)) || !(await writable(pids))) return 'cannot create cgroup v1 memory and pids groups';
  return { version: 1, memory, pids };
}

/** cgroups for sample runs, or the reason there are none on this machine. */
export class Cgroups {
  private counter = 0;

  private constructor(private readonly hierarchies: Hierarchies) {}

  static async detect(): Promise<Cgroups | string> {
    const [mountText, cgroupText] = await Promise.all([readText('/proc/self/mountinfo'), readText('/proc/self/cgroup')]);
    if (mountText === null || cgroupText === null) return 'no /proc/self/mountinfo or /proc/self/cgroup';
    const mounts = parseMountInfo(mountText);
    const paths = parseProcCgroup(cgroupText);
    const v2 = await detectV2(mounts, paths);
    if (typeof v2 !== 'string') return new Cgroups(v2);
    const v1 = await detectV1(mounts, paths);
    if (typeof v1 !== 'string') return new Cgroups(v1);
    return `${v2}; ${v1}`;
  }

  get version(): 1 | 2 {
    return this.hierarchies.version;
  }

  describe(): string {
    return this.hierarchies.version === 2 ? `a cgroup v2 per run (${this.hierarchies.memory})` : `a cgroup v1 memory+pids group per run (${this.hierarchies.memory}, ${this.hierarchies.pids})`;
  }

  /** Groups left by treesynth processes that died before removing them. */
  async removeStale(isAlive: (pid: number) => boolean): Promise<void> {
    for (const dir of new Set([this.hierarchies.memory, this.hierarchies.pids])) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const pid = Number(/^treesynth-(\d+)-\d+$/.exec(name)?.[1] ?? NaN);
        if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) await rmdir(join(dir, name)).catch(() => {});
      }
    }
  }

  async create(limits: CgroupLimits): Promise<RunCgroup> {
    const name = `treesynth-${process.pid}-${this.counter++}`;
    const { version } = this.hierarchies;
    const memory = join(this.hierarchies.memory, name);
    const pids = join(this.hierarchies.pids, name);
    const dirs = [...new Set([memory, pids])];
    for (const dir of dirs) await mkdir(dir);
    try {
      if (version === 2) {
        await writeFile(join(memory, 'memory.max'), String(limits.memoryBytes));
        if (await exists(join(memory, 'memory.swap.max'))) await writeFile(join(memory, 'memory.swap.max'), '0');
      } else {
        await writeFile(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
        // memory+swap no higher than memory: the sample cannot swap its way past the limit.
        if (await exists(join(memory, 'memory.memsw.limit_in_bytes'))) await writeFile(join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
      }
      await writeFile(join(pids, 'pids.max'), String(limits.maxProcesses));
    } catch (error) {
      await Promise.all(dirs.map((d) => rmdir(d).catch(() => {})));
      throw error;
    }
    const procs = dirs.map((d) => join(d, 'cgroup.procs'));
    return {
      wrap: (argv) => ['/bin/sh', '-c', `${procs.map((p) => `echo $$ > '${p}'`).join(' && ')} && exec "$@"`, 'sh', ...argv],
      usage: async () => {
        if (version === 2) {
          const [peak, events, pidEvents] = await Promise.all([readText(join(memory, 'memory.peak')), readText(join(memory, 'memory.events')), readText(join(pids, 'pids.events'))]);
          const mem = keyed(events);
          return {
            memoryPeakBytes: peak && /^\d+/.test(peak) ? Number(peak.trim()) : null,
            memoryLimitHit: (mem.get('oom_kill') ?? 0) > 0,
            processLimitHit: (keyed(pidEvents).get('max') ?? 0) > 0,
          };
        }
        const [peak, oom, pidEvents] = await Promise.all([readText(join(memory, 'memory.max_usage_in_bytes')), readText(join(memory, 'memory.oom_control')), readText(join(pids, 'pids.events'))]);
        return {
          memoryPeakBytes: peak && /^\d+/.test(peak) ? Number(peak.trim()) : null,
          memoryLimitHit: (keyed(oom).get('oom_kill') ?? 0) > 0,
          processLimitHit: (keyed(pidEvents).get('max') ?? 0) > 0,
        };
      },
      remove: async () => {
        // bubblewrap's PID namespace already took the sample's processes down with it; this is
        // for anything that is still being torn down.
        for (let attempt = 0; attempt < 50; attempt++) {
          if (version === 2 && (await exists(join(memory, 'cgroup.kill')))) await writeFile(join(memory, 'cgroup.kill'), '1').catch(() => {});
          for (const file of procs) {
            for (const pid of ((await readText(file)) ?? '').split('\n').filter(Boolean).map(Number)) {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                // Gone already.
              }
            }
          }
          const left = await Promise.all(dirs.map((d) => rmdir(d).then(() => false, (e: NodeJS.ErrnoException) => e.code !== 'ENOENT')));
          if (!left.some(Boolean)) return;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`cgroup ${name} could not be removed: processes are still in it`);
      },
    };
  }
}
