/**
 * Observations of the guest for the chaos verdict: the cgroup tree, BPF objects, the run dir, call
 * logs and processes. Read-only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { BpfIds, BpfObject, SchedExtView } from './leaks.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
const BPFFS = '/sys/fs/bpf';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function dirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** Every cgroup below the root, relative to it. */
export function cgroupTree(root = CGROUP_ROOT): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const d of dirs(join(root, rel))) {
      const child = rel === '' ? d : `${rel}/${d}`;
      out.push(child);
      walk(child);
    }
  };
  walk('');
  return out;
}

export function frozenCgroups(root = CGROUP_ROOT): string[] {
  return cgroupTree(root).filter((cg) => read(join(root, cg, 'cgroup.freeze'))?.trim() === '1');
}

function bpftool(type: 'prog' | 'link' | 'map'): BpfObject[] {
  const r = spawnSync('bpftool', [type, 'show', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool ${type} show failed: ${r.stderr}`);
  return (JSON.parse(r.stdout || '[]') as { id: number; name?: string; prog_id?: number }[]).map((o) => ({ id: o.id, name: o.name ?? `prog ${o.prog_id ?? '?'}` }));
}

/** Every loaded BPF program, link and map (bpftool from the host's root). */
export function bpfIds(): BpfIds {
  return { prog: bpftool('prog'), link: bpftool('link'), map: bpftool('map') };
}

/** Loaded tracker programs: agentcg_fork, agentcg_exec and agentcg_exit while a daemon runs. */
export function trackerPrograms(): number {
  return bpftool('prog').filter((p) => p.name.startsWith('agentcg_')).length;
}

/** /sys/kernel/sched_ext's state and running scheduler's name; undefined on a kernel without sched_ext. */
export function schedExtView(sysfs = '/sys/kernel/sched_ext'): SchedExtView | undefined {
  const state = read(join(sysfs, 'state'))?.trim();
  if (state === undefined) return undefined;
  return { state, ops: read(join(sysfs, 'root/ops'))?.trim() ?? '' };
}

/** Files under the BPF filesystem, where pinned objects live (empty when it is not mounted). */
export function pinned(): string[] {
  if (!/ \/sys\/fs\/bpf bpf /.test(read('/proc/mounts') ?? '')) return [];
  return listTree(BPFFS);
}

/** Paths under `dir`, relative to it; directories end with `/`. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    let entries;
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(path, e.name);
      out.push(relative(dir, full) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

/** Every record in the call logs: the log's name is the container id. */
export function callRecords(callDir: string): { container: string; id: string; outcome: string }[] {
  if (!existsSync(callDir)) return [];
  return readdirSync(callDir)
    .filter((n) => n.endsWith('.jsonl'))
    .flatMap((n) =>
      (read(join(callDir, n)) ?? '')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const r = JSON.parse(l) as { id: string; outcome: string };
          return { container: n.slice(0, -'.jsonl'.length), id: r.id, outcome: r.outcome };
        }),
    );
}

/** Command lines of live processes that mention any of `needles`, except this one. */
export function processesMentioning(needles: string[]): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue;
    const cmd = read(`/proc/${pid}/cmdline`)?.split('\0').join(' ').trim();
    if (cmd && needles.some((n) => cmd.includes(n))) out.push(`${pid}: ${cmd.slice(0, 200)}`);
  }
  return out;
}
