// Observing on a real kernel: a carved crun container with two tool calls run through `exec`, one
// held at its memory.high (a tmpfs write grows past it while the ladder raises memory.high 1 MiB at
// a time) and one frozen by the ladder (any budget use counts as short here, so of two running calls
// the smaller is frozen and, with thaw_below as low, stays frozen). Then `top --once`, `status
// --json`, `metrics` and the localhost listener must all show them, with the same numbers.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { CLI, type Scratch, eventually, exited, makeBundle, readOr, run, runDetached, scratch, startDaemon, within } from '../bundle.js';

const MiB = 1 << 20;
const ID = 'it-observe';
const LISTEN = '127.0.0.1:19464';
const POLICY = [
  'tool:\n  memory_high: 16M\n  memory_max: 400M',
  'ladder:\n  recheck: 200ms\n  deadline: 10m\n  raise_step: 0.001%\n  freeze_at: 1%\n  thaw_below: 1%\n  kill_at: 100%',
  `metrics:\n  listen: ${LISTEN}`,
].join('\n');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text format as a scraper reads it: every sample under a # TYPE of its family, labels unescaped. */
function parseMetrics(text: string): { samples: Sample[]; untyped: string[] } {
  const typed = new Set<string>();
  const samples: Sample[] = [];
  const untyped: string[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
    if (type) for (const suffix of type[2] === 'histogram' ? ['_bucket', '_sum', '_count'] : ['']) typed.add(`${type[1]!}${suffix}`);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) {
      untyped.push(line);
      continue;
    }
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch));
    if (!typed.has(m[1]!)) untyped.push(line);
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { samples, untyped };
}

const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

function execCall(s: Scratch, name: string, argv: string[]): { child: ChildProcess; code: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'exec', '--container', ID, '--name', name, '--policy', s.policy, '--', ...argv], { stdio: 'ignore' });
  return { child, code: exited(child) };
}

const tools = '/sys/fs/cgroup/it-observe/tools';
const callDir = (prefix: string) => readdirSync(tools).find((n) => n.startsWith(`${prefix}-`));
const callFile = (prefix: string, file: string) => {
  const d = callDir(prefix);
  return d ? readOr(join(tools, d, file)) : '';
};

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    get(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', (e) => resolve({ status: 0, body: e.message }));
  });
}

async function observe(c: Checker, s: Scratch): Promise<void> {
  // The guest's init brings up no network, not even loopback: without it 127.0.0.1 is unreachable.
  run('ip', ['link', 'set', 'lo', 'up']);
  const daemon = await startDaemon(s);
  c.match(readOr(daemon.log), /metrics at http:\/\/127\.0\.0\.1:19464\/metrics/, 'the daemon serves metrics on the configured loopback address');
  const bundle = makeBundle(s, ID, { args: ['/bin/sleep', '600'], memoryLimit: 512 * MiB });
  c.equal(runDetached('crun', bundle, ID, join(s.dir, 'run.log')).status, 0, 'container starts');

  // tmpfs pages cannot be reclaimed without swap: the writer is throttled at memory.high for real.
  const blob = join(s.dir, 'blob');
  const hog = execCall(s, 'hog', ['sh', '-c', `dd if=/dev/zero of=${blob} bs=1M count=350 2>/dev/null; exec sleep 600`]);
  c.ok(await eventually(() => /^high [1-9]/m.test(callFile('hog', 'memory.events')), 60_000), 'the hog call is throttled (memory.events high rises)');
  const idle = execCall(s, 'idle', ['sleep', '600']);
  c.ok(await eventually(() => /^frozen 1$/m.test(callFile('idle', 'cgroup.events')), 60_000), 'the ladder froze the idle call');

  // The hog's state is what the kernel says at that moment: look again until it shows (a minute at most).
  let top = '';
  await eventually(() => /^ {2}hog-\S+ +throttled /m.test((top = run(process.execPath, [CLI, 'top', '--once', '--policy', s.policy]).stdout)), 60_000);
  c.match(top, /^agentcgroup top {2}\d\d:\d\d:\d\d {2}tracker (on|off) {2}1 container\(s\), 2 tool call\(s\)$/m, 'top --once: title with the counts', top);
  c.match(top, /^it-observe +(running|throttled) +\d/m, 'top --once shows the container', top);
  c.match(top, /^ {2}agent sleep\[\d+\][^\n]* \d+(\.\d+)?[KMG]? /m, 'and its agent leaf, with what was taken for the framework (the init, sleep)', top);
  c.match(top, /^ {2}hog-\S+ +throttled +[\d.]+M +[\d.]+M +400M /m, 'and the hog call, throttled, with current, high and max', top);
  c.match(top, /^ {2}idle-\S+ +frozen /m, 'and the idle call, frozen', top);
  c.ok(!top.includes('\x1b'), 'top --once writes no escape codes');

  const status = run(process.execPath, [CLI, 'status', '--json', '--policy', s.policy]);
  let snap: { containers: { id: string; counters: Record<string, number>; memory: { current: number }; calls: { name: string; state: string; memory: { current: number; high: number; events: Record<string, number> }; counters: Record<string, number> }[] }[] } | undefined;
  try {
    snap = JSON.parse(status.stdout);
  } catch {
    snap = undefined;
  }
  c.ok(snap !== undefined, 'status --json parses', status.stdout + status.stderr);
  const container = snap?.containers.find((k) => k.id === ID);
  const call = (name: string) => container?.calls.find((k) => k.name === name);
  c.ok((container?.memory.current ?? 0) > 16 * MiB, 'status --json: the container holds what its calls hold', container?.memory);
  c.ok((call('hog')?.memory.current ?? 0) > 16 * MiB && (call('hog')?.memory.events.high ?? 0) > 0, 'status --json: the hog above its first memory.high, throttle events counted', call('hog')?.memory);
  c.ok((call('hog')?.counters.raises ?? 0) > 0, 'status --json: the ladder raised the hog', call('hog')?.counters);
  c.equal(call('idle')?.state, 'frozen', 'status --json: idle frozen');
  c.ok((container?.counters.freezes ?? 0) > 0 && (container?.counters.raises ?? 0) > 0, 'status --json: the container counts freezes and raises', container?.counters);

  const text = run(process.execPath, [CLI, 'metrics', '--policy', s.policy]);
  const m = parseMetrics(text.stdout);
  c.equal(m.untyped.join('\n'), '', 'metrics: every sample parses and has a # TYPE', text.stderr);
  // No series per call: the running calls by container, tool name and state (the ids are in status and top).
  c.equal(value(m.samples, 'agentcgroup_tool_calls_running', { container_id: ID, tool: 'hog', state: 'throttled' }), 1, 'metrics: the hog call running throttled');
  c.equal(value(m.samples, 'agentcgroup_tool_calls_running', { container_id: ID, tool: 'idle', state: 'frozen' }), 1, 'metrics: idle in state frozen');
  c.ok(!m.samples.some((s) => 'container' in s.labels || 'call' in s.labels), 'metrics: no container or per-call label anywhere');
  c.ok(value(m.samples, 'agentcgroup_build_info', {}) === 1, 'metrics: build_info');
  c.ok((value(m.samples, 'agentcgroup_container_freezes_total', { container_id: ID }) ?? 0) > 0, 'metrics: the container counts the freeze');
  c.ok((value(m.samples, 'agentcgroup_container_memory_high_raises_total', { container_id: ID }) ?? 0) > 0, 'metrics: and the raises');
  c.ok(value(m.samples, 'agentcgroup_agent_memory_current_bytes', { container_id: ID }) !== undefined, 'metrics: the agent leaf');

  const http = await httpGet(`http://${LISTEN}/metrics`);
  c.equal(http.status, 200, 'GET /metrics on the loopback listener answers', http.body.slice(0, 200));
  const h = parseMetrics(http.body);
  c.ok(h.untyped.length === 0 && value(h.samples, 'agentcgroup_tool_calls_running', { container_id: ID, tool: 'idle', state: 'frozen' }) === 1, 'with the same text format and content', h.untyped.slice(0, 5));
  c.equal((await httpGet(`http://${LISTEN}/`)).status, 404, 'anything but GET /metrics is 404');

  daemon.child.kill('SIGTERM');
  c.equal(await exited(daemon.child), 0, 'the daemon stops cleanly');
  const down = run(process.execPath, [CLI, 'top', '--once', '--policy', s.policy]);
  c.ok(down.status === 1 && /^agentcgroup: top: the agentcgroup daemon is not reachable at .*\n$/.test(down.stderr) && down.stdout === '', 'without the daemon top says so in one line, exit 1', down);
  const gone = await httpGet(`http://${LISTEN}/metrics`);
  c.ok(gone.status === 0 && /ECONNREFUSED/.test(gone.body), 'and the listener is closed', gone);

  for (const k of [hog, idle]) k.child.kill('SIGTERM');
  run('crun', ['delete', '-f', ID]);
  await within(Promise.all([hog.code, idle.code]), 20_000);
  rmSync(blob, { force: true });
}

scenario(async (c) => {
  await observe(c, scratch(POLICY));
});
