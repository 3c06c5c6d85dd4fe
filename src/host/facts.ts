import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ControllerBinding,
  type Mount,
  parseMountinfo,
  pickCgroup2Mount,
  parseProcCgroups,
  parseUnifiedCgroupPath,
} from '../cgroup/mountinfo.js';
import type { NriEnable } from '../config/types.js';
import { type SchedExtStatus, schedExtStatus } from '../bpf/schedext.js';

/** Where /proc and /sys are: the real ones, or fixture directories in tests. */
export interface HostRoots {
  proc: string;
  sys: string;
}

/** The result of reading one file: its text, or the errno that stopped us. */
export type Read = { ok: true; text: string } | { ok: false; error: string };

/**
 * Files of non-root cgroups (feature files of the kernel's version or its options), with the first place
 * each was seen. memory.max says the memory controller is on there, so a memory.swap.max missing beside
 * it means the kernel has no swap accounting.
 */
export interface ChildFileSightings {
  'memory.peak'?: string;
  'cgroup.kill'?: string;
  'cgroup.freeze'?: string;
  'memory.max'?: string;
  'memory.reclaim'?: string;
  'memory.swap.max'?: string;
}

/**
 * Everything doctor decides from, gathered read-only in one pass. Plain data, so the decisions are
 * pure functions that tests feed from fixtures.
 */
export interface HostFacts {
  roots: HostRoots;
  mounts: Mount[] | undefined;
  mountinfoError?: string;
  controllerBindings: ControllerBinding[] | undefined;
  /** The cgroup2 mount we would use, if any, with its path translated under roots.sys. */
  cgroup2?: {
    mountPoint: string;
    path: string;
    /** Its superblock options from mountinfo: cgroup2's own flags (nsdelegate, favordynmods...) are there. */
    superOptions: string[];
    controllers: Read;
    subtreeControl: Read;
    childFiles: ChildFileSightings;
  };
  selfCgroup: string | undefined;
  memoryPressure: Read;
  swaps: Read;
  /** /proc/cmdline: boot options such as swapaccount=0 (no memory.swap.max). */
  kernelCmdline: Read;
  /** zswap's module parameters (built into Debian's kernels, off unless enabled): enabled, compressor, max_pool_percent. */
  zswap: { enabled: Read; compressor: Read; maxPoolPercent: Read };
  kernelRelease: Read;
  uid: number;
  /** /sys/kernel/btf/vmlinux: CO-RE programs need the kernel's BTF. */
  btf: boolean;
  /** Where tracefs is mounted, if anywhere (tp_btf programs do not need it). */
  tracefs: string | undefined;
  /** /sys/kernel/sched_ext: BPF schedulers (6.12+, when built in); state undefined without it. */
  schedExt: SchedExtStatus;
  /** agentcgroup's scheduler loaded (verified by the kernel, not attached), when doctor was allowed to try. */
  schedLoad?: { ok: boolean; detail: string };
  /** Policy sched_ext.enable, when the policy loaded. */
  schedEnable?: boolean;
  /** A `memcg_bpf_ops` type in the kernel's BTF: memory-control struct_ops (an unmerged patch series). */
  memcgBpfOps: boolean;
  /** The live load of the tracker, when doctor was allowed to try it. */
  tracker?: { ok: boolean; detail: string };
  /** The container runtime's NRI socket as the host policy names it, or why the policy did not load. */
  nri?: NriFacts | { policyError: string };
  /** User-space OOM killers running beside us. */
  oomKillers: OomKillerFacts;
}

/** The user-space OOM killers doctor knows how to judge, by their process name (comm). */
export const OOM_KILLERS = ['systemd-oomd', 'oomd', 'earlyoom'] as const;
export type OomKillerName = (typeof OOM_KILLERS)[number];

export interface OomKillerFacts {
  /** Those running, from /proc/<pid>/comm and cmdline; or why /proc could not be listed. */
  running: Array<{ name: OomKillerName; pid: number; args: string[] }> | { error: string };
  /** `oomctl dump` (which cgroups systemd-oomd watches), when systemd-oomd runs and doctor asked it. */
  oomctl?: Read;
}

/** Processes named as a user-space OOM killer, by their comm (and their arguments from cmdline). */
export function findOomKillers(procRoot: string): OomKillerFacts['running'] {
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((n) => /^\d+$/.test(n));
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  const found: Array<{ name: OomKillerName; pid: number; args: string[] }> = [];
  for (const pid of pids) {
    const comm = readText(join(procRoot, pid, 'comm'));
    const name = comm.ok ? comm.text.trim() : '';
    if (!(OOM_KILLERS as readonly string[]).includes(name)) continue;
    const cmdline = readText(join(procRoot, pid, 'cmdline'));
    const args = cmdline.ok ? cmdline.text.split('\0').filter((a) => a !== '').slice(1) : [];
    found.push({ name: name as OomKillerName, pid: Number(pid), args });
  }
  return found.sort((a, b) => a.pid - b.pid);
}

export interface NriFacts {
  socket: string;
  enable: NriEnable;
  /** What is at the socket's path: a unix socket, something else, or nothing. */
  found: 'socket' | 'other' | 'none';
}

/** Looks at the socket's path (stat only: nothing is connected to). */
export function nriFacts(socket: string, enable: NriEnable): NriFacts {
  let found: NriFacts['found'];
  try {
    found = statSync(socket).isSocket() ? 'socket' : 'other';
  } catch {
    found = 'none';
  }
  return { socket, enable, found };
}

export function readText(path: string): Read {
  try {
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (err) {
    return { ok: false, error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

/** Maps a mount point seen in mountinfo (always under the real /sys) into the injected sys root. */
function underSysRoot(roots: HostRoots, mountPoint: string): string {
  return mountPoint === '/sys' || mountPoint.startsWith('/sys/')
    ? join(roots.sys, mountPoint.slice('/sys'.length))
    : mountPoint;
}

const CHILD_FILES = ['memory.peak', 'cgroup.kill', 'cgroup.freeze', 'memory.max', 'memory.reclaim', 'memory.swap.max'] as const;
const MAX_CHILDREN_SCANNED = 64;

function sightChildFiles(root: string): ChildFileSightings {
  const seen: ChildFileSightings = {};
  let children: string[];
  try {
    children = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .slice(0, MAX_CHILDREN_SCANNED);
  } catch {
    return seen;
  }
  for (const child of children) {
    let names: string[];
    try {
      names = readdirSync(join(root, child));
    } catch {
      continue;
    }
    for (const file of CHILD_FILES) {
      if (seen[file] === undefined && names.includes(file)) seen[file] = join(root, child, file);
    }
  }
  return seen;
}

/** Type names live NUL-terminated in BTF's string section: a byte search is enough to see one. */
function btfHasType(path: string, name: string): boolean {
  try {
    return readFileSync(path).includes(Buffer.from(`\0${name}\0`));
  } catch {
    return false;
  }
}

export function gatherHostFacts(roots: HostRoots, uid: number): HostFacts {
  const mountinfo = readText(join(roots.proc, 'self/mountinfo'));
  const mounts = mountinfo.ok ? parseMountinfo(mountinfo.text) : undefined;
  const procCgroups = readText(join(roots.proc, 'cgroups'));
  const selfCgroup = readText(join(roots.proc, 'self/cgroup'));
  const facts: HostFacts = {
    roots,
    mounts,
    controllerBindings: procCgroups.ok ? parseProcCgroups(procCgroups.text) : undefined,
    selfCgroup: selfCgroup.ok ? parseUnifiedCgroupPath(selfCgroup.text) : undefined,
    memoryPressure: readText(join(roots.proc, 'pressure/memory')),
    swaps: readText(join(roots.proc, 'swaps')),
    kernelCmdline: readText(join(roots.proc, 'cmdline')),
    zswap: {
      enabled: readText(join(roots.sys, 'module/zswap/parameters/enabled')),
      compressor: readText(join(roots.sys, 'module/zswap/parameters/compressor')),
      maxPoolPercent: readText(join(roots.sys, 'module/zswap/parameters/max_pool_percent')),
    },
    kernelRelease: readText(join(roots.proc, 'sys/kernel/osrelease')),
    uid,
    btf: existsSync(join(roots.sys, 'kernel/btf/vmlinux')),
    schedExt: schedExtStatus(join(roots.sys, 'kernel/sched_ext')),
    memcgBpfOps: btfHasType(join(roots.sys, 'kernel/btf/vmlinux'), 'memcg_bpf_ops'),
    tracefs: mounts?.find((m) => m.fsType === 'tracefs')?.mountPoint,
    oomKillers: { running: findOomKillers(roots.proc) },
  };
  if (!mountinfo.ok) facts.mountinfoError = mountinfo.error;
  const v2 = mounts ? pickCgroup2Mount(mounts) : undefined;
  if (v2) {
    const path = underSysRoot(roots, v2.mountPoint);
    facts.cgroup2 = {
      mountPoint: v2.mountPoint,
      path,
      superOptions: v2.superOptions,
      controllers: readText(join(path, 'cgroup.controllers')),
      subtreeControl: readText(join(path, 'cgroup.subtree_control')),
      childFiles: sightChildFiles(path),
    };
  }
  return facts;
}

