/**
 * User-space OOM killers that would act on our cgroups, and what to set so they and our ladder
 * (throttle at memory.high, raise, freeze, kill one tool call) do not fight. Pure: facts in, one
 * probe per finding out. Our throttle zone raises memory pressure on purpose, and a killer that
 * watches pressure above a container may kill the container whole, agent and context with it.
 */
import type { HostFacts, OomKillerFacts, Read } from '../host/facts.js';
import type { Probe } from './evaluate.js';

export interface OomdDump {
  swapUsedLimit?: string;
  defaultPressureLimit?: string;
  defaultPressureDuration?: string;
  /** Cgroups under ManagedOOMSwap=kill. */
  swap: string[];
  /** Cgroups under ManagedOOMMemoryPressure=kill, each with its own limit when shown. */
  pressure: Array<{ path: string; limit?: string }>;
}

/** `oomctl dump` as systemd 247 to 258 print it; undefined when its two sections are not both there. */
export function parseOomctlDump(text: string): OomdDump | undefined {
  const lines = text.split('\n');
  const swapAt = lines.findIndex((l) => l.trim() === 'Swap Monitored CGroups:');
  const pressureAt = lines.findIndex((l) => l.trim() === 'Memory Pressure Monitored CGroups:');
  if (swapAt < 0 || pressureAt < 0) return undefined;
  const dump: OomdDump = { swap: [], pressure: [] };
  const header = (key: string) => lines.find((l) => l.startsWith(`${key}: `))?.slice(key.length + 2).trim();
  const swapUsedLimit = header('Swap Used Limit');
  const defaultPressureLimit = header('Default Memory Pressure Limit');
  const defaultPressureDuration = header('Default Memory Pressure Duration');
  if (swapUsedLimit) dump.swapUsedLimit = swapUsedLimit;
  if (defaultPressureLimit) dump.defaultPressureLimit = defaultPressureLimit;
  if (defaultPressureDuration) dump.defaultPressureDuration = defaultPressureDuration;
  let section: 'swap' | 'pressure' | undefined;
  for (const [i, line] of lines.entries()) {
    if (i === swapAt) section = 'swap';
    else if (i === pressureAt) section = 'pressure';
    else if (/^\S/.test(line)) section = undefined;
    const path = /^\s+Path: (\S.*)$/.exec(line)?.[1];
    if (path && section === 'swap') dump.swap.push(path);
    if (path && section === 'pressure') dump.pressure.push({ path });
    const limit = /^\s+Memory Pressure Limit: (\S+)/.exec(line)?.[1];
    const last = dump.pressure[dump.pressure.length - 1];
    if (limit && section === 'pressure' && last && last.limit === undefined) last.limit = limit;
  }
  return dump;
}

function systemdOomdProbe(pid: number, oomctl: Read | undefined): Probe {
  const base = { id: 'oomkiller.systemd-oomd', title: 'systemd-oomd', need: 'recommended' as const, how: '`oomctl dump`: the cgroups systemd-oomd monitors (units with ManagedOOMSwap= or ManagedOOMMemoryPressure=kill)' };
  const look = 'look at `systemctl show -p ManagedOOMMemoryPressure -p ManagedOOMSwap` of -.slice, system.slice, machine.slice, kubepods.slice and user@.service';
  if (!oomctl) return { ...base, ok: false, found: `running (pid ${pid}); which cgroups it watches not checked (oomctl is asked only on the real host); ${look}` };
  if (!oomctl.ok) return { ...base, ok: false, found: `running (pid ${pid}); cannot tell which cgroups it watches (oomctl dump: ${oomctl.error}); ${look}` };
  const dump = parseOomctlDump(oomctl.text);
  if (!dump) return { ...base, ok: false, found: `running (pid ${pid}); cannot read oomctl dump's output (no "Monitored CGroups" sections); ${look}` };
  if (dump.swap.length === 0 && dump.pressure.length === 0) return { ...base, ok: true, found: `running (pid ${pid}), watches no cgroup: it kills nothing of ours` };
  const duration = dump.defaultPressureDuration ? ` for ${dump.defaultPressureDuration}` : '';
  const watched = [
    ...dump.pressure.map((p) => `memory pressure on ${p.path} (${p.limit ?? dump.defaultPressureLimit ?? '?'}${duration})`),
    ...dump.swap.map((p) => `swap on ${p} (${dump.swapUsedLimit ?? '?'} of swap used)`),
  ];
  const fixes: string[] = [];
  if (dump.pressure.length > 0) {
    fixes.push(
      'our memory.high throttling shows as pressure there, so a container below may be killed whole, agent included: set ManagedOOMMemoryPressure=auto (or a higher ManagedOOMMemoryPressureLimit=) on the unit holding the agent containers (`systemctl edit`), or run them in a slice it does not watch',
    );
  }
  if (dump.swap.length > 0) fixes.push('swap kills take the cgroup using the most swap below it, container and agent whole: ManagedOOMPreference=omit on the containers\' units, or ManagedOOMSwap=auto there');
  return { ...base, ok: false, found: `running (pid ${pid}), kills whole cgroups on ${watched.join(', ')}; ${fixes.join('; ')}` };
}

function oomdProbe(pid: number, args: string[]): Probe {
  const at = args.indexOf('--config');
  const config = at >= 0 && args[at + 1] ? args[at + 1]! : (args.find((a) => a.startsWith('--config='))?.slice('--config='.length) ?? 'its JSON config (/etc/oomd.json by default)');
  return {
    id: 'oomkiller.oomd',
    title: 'oomd',
    need: 'recommended',
    ok: false,
    found: `running (pid ${pid}${args.length ? `, ${args.join(' ')}` : ''}); its rulesets kill whole cgroups on pressure and size, and our memory.high throttling shows as pressure: in ${config}, leave the agent containers' cgroups out of the rulesets' cgroup lists, or set their pressure thresholds above our ladder's`,
    how: `/proc/${pid}/comm and cmdline; oomd's config is not read`,
  };
}

/** earlyoom's own options, as getopt takes them (`-m 5`, `-m5`, `--avoid X`, `--avoid=X`). */
function earlyoomOption(args: string[], short: string | undefined, long: string | undefined): string | undefined {
  for (const [i, a] of args.entries()) {
    if ((a === short || a === long) && args[i + 1] !== undefined) return args[i + 1];
    if (short && a.startsWith(short) && a.length > short.length && !a.startsWith('--')) return a.slice(short.length);
    if (long && a.startsWith(`${long}=`)) return a.slice(long.length + 1);
  }
  return undefined;
}

function earlyoomProbe(pid: number, args: string[]): Probe {
  const mem = earlyoomOption(args, '-m', undefined)?.split(',')[0] ?? '10';
  const swap = earlyoomOption(args, '-s', undefined)?.split(',')[0] ?? '10';
  const named = (['--prefer', '--avoid', '--ignore'] as const).flatMap((o) => {
    const v = earlyoomOption(args, undefined, o);
    return v === undefined ? [] : [`${o} ${v}`];
  });
  const lowEnough = Number(mem) <= 10;
  return {
    id: 'oomkiller.earlyoom',
    title: 'earlyoom',
    need: 'recommended',
    ok: lowEnough,
    found:
      `running (pid ${pid}${args.length ? `, ${args.join(' ')}` : ''}): kills the one process with the highest oom_score once the host's available memory is under ${mem}% and free swap under ${swap}%; ` +
      'our tool calls rank +500 above their agent, so it picks them first' +
      (named.length ? ` (but its ${named.join(', ')} rank matching names before oom_score)` : '') +
      (lowEnough ? '; it acts on host memory, our ladder inside each container first' : `; -m ${mem} is above its default 10: lower it so our per-container ladder acts first`) +
      '; --avoid with the agent frameworks\' names keeps them off its list',
    how: `/proc/${pid}/comm and cmdline (earlyoom's -m and -s, defaults 10 and 10)`,
  };
}

/** One probe per user-space OOM killer running; one line saying there is none, or why it cannot tell. */
export function oomKillerProbes(facts: HostFacts): Probe[] {
  const k: OomKillerFacts = facts.oomKillers;
  const how = `/proc/<pid>/comm under ${facts.roots.proc} (in a container without the host's pid namespace, only its own processes show)`;
  if (!Array.isArray(k.running)) {
    return [{ id: 'oomkillers', title: 'user-space OOM killers', need: 'info', ok: false, found: `cannot tell: ${facts.roots.proc} not listable (${k.running.error})`, how }];
  }
  if (k.running.length === 0) {
    return [{ id: 'oomkillers', title: 'user-space OOM killers', need: 'info', ok: true, found: 'none running (systemd-oomd, oomd, earlyoom): only our ladder and the kernel kill', how }];
  }
  return k.running.map((p) => {
    if (p.name === 'systemd-oomd') return systemdOomdProbe(p.pid, k.oomctl);
    if (p.name === 'oomd') return oomdProbe(p.pid, p.args);
    return earlyoomProbe(p.pid, p.args);
  });
}
