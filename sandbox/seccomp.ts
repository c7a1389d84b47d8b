// A seccomp filter for bubblewrap (`--seccomp <fd>`): the sample may not make user namespaces
// (where it would be root again, with every namespace-gated kernel surface in reach), nor use
// the kernel interfaces container runtimes refuse by default because they are attack surface
// and no test needs them (keyrings, bpf, perf, userfaultfd, io_uring). Everything else is
// allowed. Classic BPF, assembled here: the filter is small and libseccomp is not a dependency
// worth adding for it.

/** Syscall numbers the filter needs, per architecture (from the kernel's unistd tables). */
interface ArchSyscalls {
  audit: number;
  clone: number;
  unshare: number;
  clone3: number;
  denied: Record<string, number>;
}

const ARCHES: Partial<Record<NodeJS.Architecture, ArchSyscalls>> = {
  x64: {
    audit: 0xc000003e, // AUDIT_ARCH_X86_64
    clone: 56,
    unshare: 272,
    clone3: 435,
    denied: { add_key: 248, request_key: 249, keyctl: 250, perf_event_open: 298, bpf: 321, userfaultfd: 323, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 },
  },
  arm64: {
    audit: 0xc00000b7, // AUDIT_ARCH_AARCH64
    clone: 220,
    unshare: 97,
    clone3: 435,
    denied: { add_key: 217, request_key: 218, keyctl: 219, perf_event_open: 241, bpf: 280, userfaultfd: 282, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 },
  },
};

const CLONE_NEWUSER = 0x10000000;
const X32_SYSCALL_BIT = 0x40000000;
const EPERM = 1;
const ENOSYS = 38;

// BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
// struct seccomp_data: nr at 0, arch at 4, args[0] at 16 (low 32 bits first on little-endian).
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LO = 16;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The architectures the filter exists for; elsewhere the sandbox runs without it and says so. */
export function seccompSupported(arch: NodeJS.Architecture = process.arch): boolean {
  return ARCHES[arch] !== undefined;
}

/**
 * The filter program as bwrap reads it: an array of `struct sock_filter` (8 bytes each, host
 * byte order). Returns null on an architecture without a syscall table here.
 */
export function seccompProgram(arch: NodeJS.Architecture = process.arch): Buffer | null {
  const sys = ARCHES[arch];
  if (!sys) return null;
  const errno = (e: number): number => (RET_ERRNO | e) >>> 0;
  // Jumps only go forward, to the returns at the end (or to the unshare check), so offsets are
  // computed once the body is laid out.
  const body: Array<Insn | { jumpTo: 'allow' | 'eperm' | 'enosys'; code: number; k: number; onTrue: boolean }> = [];
  const ins = (code: number, k: number): void => void body.push({ code, jt: 0, jf: 0, k });
  const jumpIf = (code: number, k: number, target: 'allow' | 'eperm' | 'enosys', onTrue = true): void => void body.push({ jumpTo: target, code, k, onTrue });

  ins(LD_W_ABS, OFF_ARCH);
  jumpIf(JEQ_K, sys.audit, 'eperm', false); // another ABI (i386 via int 0x80): refused
  ins(LD_W_ABS, OFF_NR);
  if (arch === 'x64') jumpIf(JGE_K, X32_SYSCALL_BIT, 'eperm'); // the x32 ABI
  jumpIf(JEQ_K, sys.clone3, 'enosys'); // flags live in a struct BPF cannot read; libc falls back to clone
  for (const nr of Object.values(sys.denied)) jumpIf(JEQ_K, nr, 'eperm');
  // clone and unshare: refused only with CLONE_NEWUSER.
  const checkFlags = body.length;
  jumpIf(JEQ_K, sys.clone, 'allow', false);
  ins(LD_W_ABS, OFF_ARG0_LO);
  jumpIf(JSET_K, CLONE_NEWUSER, 'eperm');
  ins(RET_K, RET_ALLOW);
  ins(LD_W_ABS, OFF_NR);
  jumpIf(JEQ_K, sys.unshare, 'allow', false);
  ins(LD_W_ABS, OFF_ARG0_LO);
  jumpIf(JSET_K, CLONE_NEWUSER, 'eperm');
  const returns = { allow: body.length, eperm: body.length + 1, enosys: body.length + 2 };
  ins(RET_K, RET_ALLOW);
  ins(RET_K, errno(EPERM));
  ins(RET_K, errno(ENOSYS));

  // "not clone" must fall through to the unshare check rather than allow: patch that jump.
  const unshareCheck = body.findIndex((b, i) => i > checkFlags && 'code' in b && b.code === LD_W_ABS && (b as Insn).k === OFF_NR);
  const out = Buffer.alloc(body.length * 8);
  body.forEach((b, i) => {
    let insn: Insn;
    if ('jumpTo' in b) {
      const target = i === checkFlags ? unshareCheck : returns[b.jumpTo];
      const offset = target - i - 1;
      if (offset < 0 || offset > 255) throw new Error('seccomp filter: jump out of range');
      insn = { code: b.code, jt: b.onTrue ? offset : 0, jf: b.onTrue ? 0 : offset, k: b.k };
    } else {
      insn = b;
    }
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(insn.jt, i * 8 + 2);
    out.writeUInt8(insn.jf, i * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}
