import { kernelAtLeast, parseControllerList } from '../cgroup/mountinfo.js';
import { describeNriStartup, nriStartup } from '../config/nri.js';
import type { HostFacts, Read } from '../host/facts.js';
import { runsOurs } from '../bpf/schedext.js';
import { oneLine } from '../text.js';
import { CONTROLLERS } from '../layout.js';
import { oomKillerProbes } from './oomkillers.js';

/** required: agentcgroup cannot work without it; recommended: works, but worse; info: context only. */
export type Need = 'required' | 'recommended' | 'info';

export interface Probe {
  id: string;
  title: string;
  need: Need;
  ok: boolean;
  /** What was found, in a few words. */
  found: string;
  /** How the decision was made: which file or rule. */
  how: string;
}

export interface Verdict {
  ready: boolean;
  /** One line: why not ready (the first failed required probe), or a summary when ready. */
  summary: string;
}

export interface DoctorReport {
  probes: Probe[];
  verdict: Verdict;
}

type Mode = 'unified' | 'hybrid' | 'legacy' | 'none' | 'unknown';

function cgroupMode(facts: HostFacts): Mode {
  if (!facts.mounts) return 'unknown';
  const hasV2 = facts.mounts.some((m) => m.fsType === 'cgroup2');
  const hasV1 = facts.mounts.some((m) => m.fsType === 'cgroup');
  if (hasV2 && !hasV1) return 'unified';
  if (hasV2) return 'hybrid';
  return hasV1 ? 'legacy' : 'none';
}

function readOr(read: Read, fallback: string): string {
  return read.ok ? read.text.trim() : fallback;
}

function mountProbe(facts: HostFacts, mode: Mode): Probe {
  const base = { id: 'cgroup2', title: 'cgroup2 mount', need: 'required' as const };
  const how = `${facts.roots.proc}/self/mountinfo: cgroup2 and cgroup (v1) mounts`;
  switch (mode) {
    case 'unknown':
      return { ...base, ok: false, found: `cannot read mountinfo (${facts.mountinfoError ?? 'unknown error'})`, how };
    case 'none':
      return { ...base, ok: false, found: 'no cgroup filesystem mounted', how };
    case 'legacy':
      return { ...base, ok: false, found: 'cgroup v1 only (legacy hierarchy), no cgroup2 mount', how };
    default:
      return { ...base, ok: true, found: `${mode} hierarchy, cgroup2 at ${facts.cgroup2?.mountPoint ?? '?'}`, how };
  }
}

/** Why a controller is missing from cgroup2: bound to a v1 hierarchy, disabled at boot, or absent. */
function missingReason(facts: HostFacts, name: string): string {
  const binding = facts.controllerBindings?.find((b) => b.name === name);
  if (!binding) return `${name} controller is not built into this kernel`;
  if (!binding.enabled) return `${name} controller is disabled (cgroup_disable= on the kernel command line)`;
  if (binding.hierarchy !== 0) return `${name} controller is bound to cgroup v1 (hierarchy ${binding.hierarchy})`;
  return `${name} controller is not offered by the cgroup2 root`;
}

function controllerProbes(facts: HostFacts): Probe[] {
  const available = facts.cgroup2?.controllers.ok ? parseControllerList(facts.cgroup2.controllers.text) : undefined;
  const enabled = facts.cgroup2?.subtreeControl.ok ? parseControllerList(facts.cgroup2.subtreeControl.text) : [];
  const rootPath = facts.cgroup2?.path ?? '(no cgroup2 mount)';
  return CONTROLLERS.map((name): Probe => {
    const base = { id: `controller.${name}`, title: `${name} controller`, need: 'required' as const };
    if (!available) {
      return { ...base, ok: false, found: missingReason(facts, name), how: `${rootPath}/cgroup.controllers unreadable; ${facts.roots.proc}/cgroups` };
    }
    if (!available.includes(name)) {
      return { ...base, ok: false, found: missingReason(facts, name), how: `absent from ${rootPath}/cgroup.controllers; binding from ${facts.roots.proc}/cgroups` };
    }
    const state = enabled.includes(name) ? 'enabled for children' : 'available, not yet enabled for children (the runtime enables it)';
    return { ...base, ok: true, found: `${state} at the cgroup2 root`, how: `${rootPath}/cgroup.controllers and cgroup.subtree_control` };
  });
}

/** A feature file of non-root cgroups: seen in an existing child, else inferred from the kernel version. */
function featureProbe(
  facts: HostFacts,
  file: 'memory.peak' | 'cgroup.kill' | 'cgroup.freeze',
  since: [number, number],
  use: string,
): Probe {
  const base = { id: file, title: file, need: 'required' as const };
  const seen = facts.cgroup2?.childFiles[file];
  if (seen) return { ...base, ok: true, found: `present (${use})`, how: `seen at ${seen}` };
  if (!facts.cgroup2) return { ...base, ok: false, found: 'no cgroup2 mount', how: 'needs cgroup2' };
  const release = readOr(facts.kernelRelease, '');
  const ok = release !== '' && kernelAtLeast(release, since[0], since[1]);
  const needs = `Linux ${since[0]}.${since[1]}`;
  return {
    ...base,
    ok,
    found: ok ? `expected (${use})` : `missing: needs ${needs}, kernel is ${release || 'unknown'}`,
    how: `no child cgroup to look in; kernel ${release || 'unknown'} against ${needs}`,
  };
}

function psiProbe(facts: HostFacts): Probe {
  const base = { id: 'psi', title: 'pressure stall information', need: 'required' as const };
  const how = `${facts.roots.proc}/pressure/memory`;
  const r = facts.memoryPressure;
  if (r.ok && r.text.startsWith('some ')) return { ...base, ok: true, found: 'on (memory pressure triggers usable)', how };
  const why = r.ok ? 'unexpected contents' : r.error === 'EOPNOTSUPP' ? 'disabled (boot with psi=1)' : `unavailable (${r.error})`;
  return { ...base, ok: false, found: why, how };
}

export interface SwapDevice {
  name: string;
  type: string;
  sizeKiB: number;
  usedKiB: number;
  /** The kernel fills the device of the highest priority first. */
  priority: number;
}

/** /proc/swaps: a header line, then one device a line (names with spaces come escaped as \040). Pure. */
export function parseSwaps(text: string): SwapDevice[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && f[0] !== '')
    .map((f) => ({ name: f[0]!, type: f[1]!, sizeKiB: Number(f[2]), usedKiB: Number(f[3]), priority: Number(f[4] ?? 0) }));
}

const gib = (kib: number) => `${(kib / (1 << 20)).toFixed(1)} GiB`;

/** A zram device keeps swapped pages compressed in RAM: as a swap device it is its own kind. */
const isZram = (d: SwapDevice): boolean => /^\/dev\/zram\d+$/.test(d.name);

function swapProbe(facts: HostFacts): Probe {
  const base = { id: 'swap', title: 'swap', need: 'recommended' as const };
  const how = `${facts.roots.proc}/swaps`;
  if (!facts.swaps.ok) return { ...base, ok: false, found: `unknown (${facts.swaps.error})`, how };
  const devices = parseSwaps(facts.swaps.text);
  if (devices.length === 0) {
    return { ...base, ok: false, found: 'none: memory.high stalls instead of reclaiming (the supervisor must resolve stalls), and a frozen tool call keeps its anonymous memory; see README, compressed swap', how };
  }
  return { ...base, ok: true, found: devices.map((d) => `${d.name} (${isZram(d) ? 'zram' : d.type}, ${gib(d.sizeKiB)}, ${gib(d.usedKiB)} used)`).join(', '), how };
}

/** zswap's parameters as read, or why its enabled file could not be (not in this kernel). */
function zswapState(facts: HostFacts): { ok: true; on: boolean; compressor: string; pool: string } | { ok: false; error: string } {
  const z = facts.zswap;
  if (!z.enabled.ok) return z.enabled;
  return {
    ok: true,
    on: /^[Y1]/.test(z.enabled.text.trim()),
    compressor: z.compressor.ok ? z.compressor.text.trim() : '?',
    pool: z.maxPoolPercent.ok ? `${z.maxPoolPercent.text.trim()}% of RAM` : '?',
  };
}

/**
 * zswap compresses pages on their way to a swap device and keeps them in a RAM pool: with a small swap
 * file behind it, what is pushed out of a cgroup stays in RAM at a fraction of its size.
 */
function zswapProbe(facts: HostFacts): Probe {
  const base = { id: 'zswap', title: 'zswap (compressed swap cache)', need: 'info' as const };
  const dir = `${facts.roots.sys}/module/zswap/parameters`;
  const z = zswapState(facts);
  if (!z.ok) return { ...base, ok: false, found: 'not in this kernel', how: `${dir}/enabled: ${z.error}` };
  const { on, compressor, pool } = z;
  const swap = facts.swaps.ok ? parseSwaps(facts.swaps.text).filter((d) => !isZram(d)).length : 0;
  const found = on
    ? `on, ${compressor}, pool up to ${pool}${swap === 0 ? '; no swap device behind it, so it holds nothing' : ''}`
    : `off (echo Y > ${dir}/enabled, or zswap.enabled=1 at boot; it needs a swap device behind it)`;
  return { ...base, ok: on && swap > 0, found, how: `${dir}/enabled, compressor, max_pool_percent` };
}

/** Whether tool.swap_max and agent.swap_max can be applied: memory.swap.max exists only with swap accounting. */
function swapAccountingNote(facts: HostFacts): string | undefined {
  const seen = facts.cgroup2?.childFiles ?? {};
  if (seen['memory.swap.max']) return undefined;
  const cmdline = facts.kernelCmdline.ok ? facts.kernelCmdline.text : '';
  const boot = /(^|\s)swapaccount=0(\s|$)/.test(cmdline) ? 'swapaccount=0 on the kernel command line' : undefined;
  const memoryMax = seen['memory.max'];
  if (memoryMax) {
    const dir = memoryMax.slice(0, memoryMax.lastIndexOf('/'));
    return `no memory.swap.max in ${dir} (no swap accounting${boot ? `: ${boot}` : ''}): tool.swap_max and agent.swap_max cannot be applied, so the framework may be swapped out too`;
  }
  return boot ? `${boot}: where the kernel honours it there is no memory.swap.max, and tool.swap_max and agent.swap_max cannot be applied` : undefined;
}

/**
 * The ladder's rung between freeze and kill: a frozen call's memory pushed out by writes to its
 * memory.reclaim (Linux 5.19). Page cache can always go; anonymous memory only to swap, so what the
 * rung frees, and what a thawed call pays to get it back, depends on the swap this host has.
 */
function reclaimProbe(facts: HostFacts): Probe {
  const base = { id: 'reclaim', title: 'reclaim rung (frozen calls give memory back)', need: 'info' as const };
  const seen = facts.cgroup2?.childFiles ?? {};
  const release = readOr(facts.kernelRelease, '');
  const how = [
    seen['memory.reclaim'] ? `memory.reclaim seen at ${seen['memory.reclaim']}` : `kernel ${release || 'unknown'} against Linux 5.19 (memory.reclaim)`,
    `${facts.roots.proc}/swaps`,
    `${facts.roots.sys}/module/zswap/parameters`,
    seen['memory.swap.max'] ? `memory.swap.max seen at ${seen['memory.swap.max']}` : `memory.swap.max in child cgroups, ${facts.roots.proc}/cmdline`,
  ].join('; ');
  if (!facts.cgroup2) return { ...base, ok: false, found: 'unavailable: no cgroup2 mount', how };
  // Seen in a child; missing beside the memory controller's own files in one; else by the kernel version.
  const hasReclaim = seen['memory.reclaim'] !== undefined || (seen['memory.max'] === undefined && release !== '' && kernelAtLeast(release, 5, 19));
  if (!hasReclaim) {
    const kernel = release === '' ? 'kernel version unknown' : `kernel ${release}`;
    return { ...base, ok: false, found: `unavailable: no memory.reclaim (Linux 5.19; ${kernel}): frozen calls keep their memory, and kill is the only way to make room`, how };
  }
  if (!facts.swaps.ok) return { ...base, ok: false, found: `cannot tell: swap unknown (${facts.swaps.error})`, how };
  const first = parseSwaps(facts.swaps.text).sort((a, b) => b.priority - a.priority)[0];
  if (!first) {
    return { ...base, ok: false, found: "page cache only: frozen calls' anonymous memory stays; kill remains the last resort (no swap; see README, compressed swap)", how };
  }
  const zswap = zswapState(facts);
  const to = isZram(first)
    ? `${first.name} compressed in RAM (${gib(first.sizeKiB)})`
    : zswap.ok && zswap.on
      ? `${first.name} through zswap (${zswap.compressor}, pool up to ${zswap.pool})`
      : `${first.name} on disk: it works, but a thawed call waits on the disk for each page it touches again (zram or zswap keep them in RAM; see README, compressed swap)`;
  const note = swapAccountingNote(facts);
  return { ...base, ok: true, found: `frozen calls' memory goes to ${to}${note ? `; ${note}` : ''}`, how };
}

/**
 * favordynmods (Linux 6.0+) makes moving a process between cgroups, a cgroup.procs write as the daemon
 * does for every tool call, cheaper at some cost to every fork and exit. cgroup2 shows its flags in the
 * superblock options of mountinfo, and a remount sets all of them at once (an option left out is turned
 * off), so the command given keeps the ones in force.
 */
function favordynmodsProbe(facts: HostFacts): Probe {
  const base = { id: 'favordynmods', title: 'cgroup2 favordynmods', need: 'recommended' as const };
  const how =
    `super options of the cgroup2 line in ${facts.roots.proc}/self/mountinfo (the option is Linux 6.0+). Recommended, not required: ` +
    'the daemon moves each tool call into its cgroup with a cgroup.procs write, which waits for an RCU grace period (published on 6.1: ' +
    "20-31 ms without favordynmods, 5-9 ms with it), and what the call allocates meanwhile is charged to the agent leaf; the price is slightly dearer forks and exits. " +
    "A remount sets every cgroup2 option at once (one left out is turned off), so the command keeps the current ones; run it as root in the host's cgroup namespace";
  const cg = facts.cgroup2;
  if (!cg) return { ...base, ok: false, found: 'no cgroup2 mount', how };
  if (cg.superOptions.includes('favordynmods')) return { ...base, ok: true, found: 'on', how };
  const release = readOr(facts.kernelRelease, '');
  if (release !== '' && !kernelAtLeast(release, 6, 0)) return { ...base, ok: false, found: `off (needs Linux 6.0, kernel is ${release})`, how };
  const keep = cg.superOptions.filter((o) => o !== '' && o !== 'rw' && o !== 'ro');
  const at = /^[\w/.-]+$/.test(cg.mountPoint) ? cg.mountPoint : `'${cg.mountPoint.replace(/'/g, "'\\''")}'`;
  return { ...base, ok: false, found: `off (remount with: mount -o remount,${[...keep, 'favordynmods'].join(',')} ${at})`, how };
}

function kernelProbe(facts: HostFacts): Probe {
  const release = readOr(facts.kernelRelease, 'unknown');
  return { id: 'kernel', title: 'kernel', need: 'info', ok: facts.kernelRelease.ok, found: release, how: `${facts.roots.proc}/sys/kernel/osrelease` };
}

function rootProbe(facts: HostFacts): Probe {
  const ok = facts.uid === 0;
  return {
    id: 'root',
    title: 'running as root',
    need: 'required',
    ok,
    found: ok ? 'uid 0' : `uid ${facts.uid}: carving container cgroups needs root`,
    how: 'effective uid of this process',
  };
}

function btfProbe(facts: HostFacts): Probe {
  return {
    id: 'btf',
    title: 'kernel BTF',
    need: 'recommended',
    ok: facts.btf,
    found: facts.btf ? 'present (the tracker can relocate to this kernel)' : 'missing: the eBPF tracker cannot load (kernel built without CONFIG_DEBUG_INFO_BTF)',
    how: `${facts.roots.sys}/kernel/btf/vmlinux`,
  };
}

function tracefsProbe(facts: HostFacts): Probe {
  return {
    id: 'tracefs',
    title: 'tracefs',
    need: 'info',
    ok: facts.tracefs !== undefined,
    found: facts.tracefs ? `mounted at ${facts.tracefs}` : 'not mounted (not needed: the tracker attaches with tp_btf)',
    how: `${facts.roots.proc}/self/mountinfo`,
  };
}

/**
 * sched_ext and agentcgroup's scheduler (policy sched_ext.enable): whether the kernel has it, which
 * scheduler runs now, whether ours loads here (kfuncs it needs that an older kernel lacks), and what
 * the policy asks. Info only: cpu.weight shares the CPU where it does not run.
 */
function schedExtProbe(facts: HostFacts): Probe {
  const base = { id: 'sched_ext', title: 'sched_ext', need: 'info' as const, how: `${facts.roots.sys}/kernel/sched_ext; policy sched_ext.enable` };
  const s = facts.schedExt;
  const policy = facts.schedEnable === undefined ? '' : `; policy sched_ext.enable ${String(facts.schedEnable)}`;
  if (s.state === undefined) return { ...base, ok: false, found: `absent (kernel before 6.12 or built without it): cpu.weight shares the CPU${policy}` };
  const running =
    runsOurs(s)
      ? "agentcgroup's scheduler runs (the daemon's)"
      : s.state === 'enabled' && s.ops
        ? `another scheduler runs (${oneLine(s.ops, 64)}): the daemon would not take over`
        : `present, no BPF scheduler runs (${oneLine(s.state, 32)})`;
  const load = facts.schedLoad === undefined ? '' : facts.schedLoad.ok ? `; ours ${facts.schedLoad.detail}` : `; ours cannot load here: ${facts.schedLoad.detail}`;
  return {
    ...base,
    ok: facts.schedLoad?.ok ?? true,
    found: `${running}${load}${policy}`,
    how: `${base.how}${facts.schedLoad === undefined ? '' : '; opened and loaded the scheduler object (not attached), as root'}`,
  };
}

function inKernelProbes(facts: HostFacts): Probe[] {
  return [
    schedExtProbe(facts),
    {
      id: 'memcg_bpf_ops',
      title: 'memcg BPF struct_ops',
      need: 'info',
      ok: facts.memcgBpfOps,
      found: facts.memcgBpfOps
        ? 'present in BTF (not used yet: the userspace ladder runs)'
        : 'absent (no released kernel has it; it is an unmerged patch series): the userspace ladder runs',
      how: `memcg_bpf_ops in ${facts.roots.sys}/kernel/btf/vmlinux`,
    },
  ];
}

function trackerProbe(facts: HostFacts): Probe {
  const base = { id: 'tracker', title: 'eBPF tracker loads', need: 'recommended' as const, how: 'opened, loaded, attached and closed the tracker (bpf() as this user)' };
  if (!facts.tracker) return { ...base, ok: false, found: 'not checked', how: 'only tried against the real /proc and /sys, as root' };
  return { ...base, ok: facts.tracker.ok, found: facts.tracker.ok ? facts.tracker.detail : `no: ${facts.tracker.detail}; tool calls are then separated only through agentcgroup exec` };
}

/**
 * The container runtime's NRI socket and what the policy makes of it: whether the daemon would
 * register as its plugin (then neither the runtime shim nor a RuntimeClass is needed on this node).
 */
function nriProbe(facts: HostFacts): Probe | undefined {
  const nri = facts.nri;
  if (!nri) return undefined;
  const base = { id: 'nri', title: 'NRI (runtime plugins)', need: 'info' as const };
  if ('policyError' in nri) return { ...base, ok: false, found: `not judged: ${nri.policyError}`, how: 'policy nri.enable and nri.socket' };
  const present = nri.found === 'socket';
  const there = present ? `socket at ${nri.socket}` : nri.found === 'other' ? `${nri.socket} is not a socket` : `no socket at ${nri.socket}`;
  return {
    ...base,
    ok: present && nriStartup(nri.enable, present) === 'start',
    found: `${there}; ${describeNriStartup(nri.enable, present)}`,
    how: `stat of policy nri.socket (nothing connects to it); policy nri.enable ${String(nri.enable)}`,
  };
}

/** Pure: facts in, probes and verdict out. */
export function evaluate(facts: HostFacts): DoctorReport {
  const mode = cgroupMode(facts);
  const probes = [
    mountProbe(facts, mode),
    ...controllerProbes(facts),
    featureProbe(facts, 'memory.peak', [5, 19], 'per-tool-call peak memory'),
    featureProbe(facts, 'cgroup.kill', [5, 14], 'kills a whole tool call at once'),
    featureProbe(facts, 'cgroup.freeze', [5, 2], 'freezes low-priority work'),
    psiProbe(facts),
    swapProbe(facts),
    zswapProbe(facts),
    reclaimProbe(facts),
    favordynmodsProbe(facts),
    kernelProbe(facts),
    rootProbe(facts),
    btfProbe(facts),
    tracefsProbe(facts),
    trackerProbe(facts),
    ...inKernelProbes(facts),
    ...[nriProbe(facts)].filter((p): p is Probe => p !== undefined),
    ...oomKillerProbes(facts),
  ];
  const failed = probes.filter((p) => p.need === 'required' && !p.ok);
  const first = failed[0];
  const verdict: Verdict = first
    ? {
        ready: false,
        summary: `not ready: ${first.found}${mode === 'hybrid' && first.id.startsWith('controller.') ? ' (hybrid cgroup layout); agentcgroup needs it on cgroup v2' : ''}${failed.length > 1 ? ` (+${failed.length - 1} more)` : ''}`,
      }
    : { ready: true, summary: `ready: cgroup v2 with ${CONTROLLERS.join(', ')}, PSI, memory.peak, cgroup.kill, cgroup.freeze` };
  return { probes, verdict };
}
