// Which file system a path is on, where that matters: the pseudo-filesystems (/proc, /sys, ...)
// are neither code to read nor a place to write outputs.
import { statfs } from 'node:fs/promises';

// Linux statfs f_type values (linux/magic.h) of kernel interfaces that look like files: their
// "files" may never end (/proc/kmsg) and they hold nothing a run should read or write.
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x1cd1, 'devpts'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0x62656570, 'configfs'],
  [0x65735543, 'fusectl'],
  [0x42494e4d, 'binfmt_misc'],
  [0xf97cff8c, 'selinuxfs'],
  [0x19800202, 'mqueue'],
  [0x6e736673, 'nsfs'],
]);

/** The name of the pseudo-filesystem `path` is on, or null (also off Linux, and when statfs fails). */
export async function pseudoFilesystem(path: string): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  const type = (await statfs(path).catch(() => null))?.type;
  return type === undefined ? null : (PSEUDO_FILESYSTEMS.get(type) ?? null);
}
