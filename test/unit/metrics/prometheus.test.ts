import t from 'tap';
import { escapeHelp, escapeLabelValue, formatValue, renderPrometheus } from '../../../src/metrics/prometheus.js';
import { readFileSync } from 'node:fs';
import { MAX_TOOLS, OTHER_TOOL, ToolStats } from '../../../src/metrics/toolstats.js';
import type { CallRecord } from '../../../src/state/records.js';
import type { DaemonSnapshot } from '../../../src/metrics/snapshot.js';
import { sampleSnapshot } from '../../fixtures/snapshot.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A reader for the text format, strict where the format is: what a scraper would accept. */
function parse(text: string): { samples: Sample[]; types: Map<string, string>; helps: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const closed = new Set<string>();
  const histogramSamples = new Set<string>();
  let current = '';
  t.ok(text.endsWith('\n'), 'ends with a line feed');
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (name !== current) {
        if (closed.has(name)) throw new Error(`family ${name} appears twice`);
        if (current) closed.add(current);
        current = name;
      }
      (kind === 'HELP' ? helps : types).set(name, rest);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name, body, raw] = m as unknown as [string, string, string | undefined, string];
    const family = types.get(current) === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : name;
    if (family !== current) throw new Error(`sample ${name} outside its family (${current})`);
    const labels: Record<string, string> = {};
    let rest = body ?? '';
    while (rest !== '') {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      if (!l) throw new Error(`bad labels: ${JSON.stringify(body)}`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(l[0].length);
    }
    const value = raw === '+Inf' ? Infinity : Number(raw);
    if (Number.isNaN(value)) throw new Error(`bad value ${raw}`);
    samples.push({ name, labels, value });
    if (family !== name) histogramSamples.add(name);
  }
  for (const name of histogramSamples) types.set(name, 'histogram-part');
  return { samples, types, helps };
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

t.test('every family has HELP and TYPE, is prefixed, and counters end in _total', async (t) => {
  const { samples, types, helps } = parse(renderPrometheus(sampleSnapshot()));
  t.ok(types.size > 20, `${types.size} families`);
  for (const [name, type] of types) {
    t.match(name, /^agentcgroup_/, name);
    t.ok(helps.get(name), `${name} has help`);
    if (type === 'histogram-part') continue;
    t.ok(type === 'counter' ? name.endsWith('_total') : (type === 'gauge' || type === 'histogram') && !name.endsWith('_total'), `${name}: ${type}`);
  }
  for (const s of samples) t.ok(types.has(s.name), `${s.name} is declared`);
});

t.test('the numbers of the snapshot, per container and agent leaf; calls per tool name', async (t) => {
  const { samples } = parse(renderPrometheus(sampleSnapshot()));
  const value = (name: string, labels: Record<string, string> = {}) => {
    const hit = find(samples, name, labels);
    t.equal(hit.length, 1, `one ${name} ${JSON.stringify(labels)}`);
    return hit[0]?.value;
  };
  const c = { container_id: 'agent-1' };
  t.equal(value('agentcgroup_build_info', { version: JSON.parse(readFileSync('package.json', 'utf8')).version }), 1, "build_info: package.json's version");
  t.same(find(samples, 'agentcgroup_build_info')[0]!.labels, { version: JSON.parse(readFileSync('package.json', 'utf8')).version, commit: 'unknown' }, 'and the commit: unknown when run from the sources (the build defines it)');
  t.equal(value('agentcgroup_tracker_up'), 1);
  t.equal(value('agentcgroup_tracker_events_total'), 5317);
  t.equal(value('agentcgroup_tracker_events_dropped_total'), 75);
  t.equal(value('agentcgroup_tracker_drain_batches_total'), 23);
  t.equal(value('agentcgroup_tracker_rescans_total'), 2);
  t.equal(value('agentcgroup_containers'), 1);
  t.equal(value('agentcgroup_tool_calls'), 2);
  t.equal(value('agentcgroup_container_memory_current_bytes', c), 80 << 20);
  t.equal(value('agentcgroup_container_memory_high_bytes', c), 230 << 20);
  t.equal(value('agentcgroup_agent_memory_max_bytes', c), Infinity, 'max is +Inf');
  t.equal(value('agentcgroup_container_freezes_total', c), 1);
  t.equal(value('agentcgroup_container_kills_total', c), 0);
  t.equal(value('agentcgroup_container_memory_high_raises_total', c), 3);
  t.equal(value('agentcgroup_tool_calls_running', { ...c, tool: 'hog', state: 'throttled' }), 1);
  t.equal(value('agentcgroup_tool_calls_running', { ...c, tool: 'hog', state: 'running' }), 0);
  t.equal(value('agentcgroup_tool_calls_running', { ...c, tool: 'idle', state: 'frozen' }), 1);
  t.notOk(samples.some((s) => 'container' in s.labels), 'no container label anywhere: it would become exported_container');
  t.notOk(samples.some((s) => 'call' in s.labels || s.name.startsWith('agentcgroup_call_')), 'no series per call id');
});

t.test('pressure named as node_exporter and cAdvisor name it: some is waiting, full is stalled', async (t) => {
  const snap = sampleSnapshot();
  snap.containers[0]!.memory.pressure = { some: { avg10: 52.5, totalUs: 3_500_000 }, full: { avg10: 48.25, totalUs: 3_000_000 } };
  const { samples, types } = parse(renderPrometheus(snap));
  const v = (name: string) => find(samples, name, { container_id: 'agent-1' })[0]?.value;
  t.equal(v('agentcgroup_container_pressure_memory_waiting_seconds_total'), 3.5);
  t.equal(v('agentcgroup_container_pressure_memory_stalled_seconds_total'), 3);
  t.equal(v('agentcgroup_container_pressure_memory_waiting_avg10_ratio'), 0.525);
  t.equal(v('agentcgroup_container_pressure_memory_stalled_avg10_ratio'), 0.4825);
  t.equal(types.get('agentcgroup_agent_pressure_memory_stalled_seconds_total'), 'counter');
  t.notOk([...types.keys()].some((n) => /pressure_(avg10|stall_seconds)|memory_pressure/.test(n)), 'the old names are gone');
});

t.test('calls that ended: outcomes counted, duration and peak as histograms, per container and tool name', async (t) => {
  const stats = new ToolStats();
  const rec = (name: string, outcome: CallRecord['outcome'], durationMs: number | null, peak: number | null) => ({ name, outcome, durationMs, memory: { peak, high: 'max' as const, max: 'max' as const } });
  stats.note('agent-1', rec('pytest', 'ok', 2500, 100 << 20));
  stats.note('agent-1', rec('pytest', 'oom-killed', 70_000, 9 << 30));
  stats.note('agent-1', rec('ls', 'ok', 50, null));
  const snap = sampleSnapshot();
  snap.containers[0]!.tools = stats.container('agent-1');
  const { samples, types } = parse(renderPrometheus(snap));
  const py = { container_id: 'agent-1', tool: 'pytest' };
  const v = (name: string, labels: Record<string, string>) => find(samples, name, labels)[0]?.value;
  t.equal(types.get('agentcgroup_tool_call_duration_seconds'), 'histogram');
  t.equal(v('agentcgroup_tool_calls_ended_total', { ...py, outcome: 'ok' }), 1);
  t.equal(v('agentcgroup_tool_calls_ended_total', { ...py, outcome: 'oom-killed' }), 1);
  t.equal(v('agentcgroup_tool_call_duration_seconds_bucket', { ...py, le: '5' }), 1);
  t.equal(v('agentcgroup_tool_call_duration_seconds_bucket', { ...py, le: '60' }), 1);
  t.equal(v('agentcgroup_tool_call_duration_seconds_bucket', { ...py, le: '300' }), 2, 'buckets are cumulative');
  t.equal(v('agentcgroup_tool_call_duration_seconds_bucket', { ...py, le: '+Inf' }), 2);
  t.equal(v('agentcgroup_tool_call_duration_seconds_sum', py), 72.5);
  t.equal(v('agentcgroup_tool_call_duration_seconds_count', py), 2);
  t.equal(v('agentcgroup_tool_call_memory_peak_bytes_bucket', { ...py, le: String(256 * 2 ** 20) }), 1);
  t.equal(v('agentcgroup_tool_call_memory_peak_bytes_bucket', { ...py, le: '+Inf' }), 2, 'past the last bound');
  t.equal(v('agentcgroup_tool_call_memory_peak_bytes_count', { container_id: 'agent-1', tool: 'ls' }), 0, 'no peak known: counted in its outcome only');
  t.equal(v('agentcgroup_tool_calls_ended_total', { container_id: 'agent-1', tool: 'ls', outcome: 'ok' }), 1);
});

t.test('tool names are bounded per container: past MAX_TOOLS, the rest count as other', async (t) => {
  const stats = new ToolStats();
  for (let i = 0; i < MAX_TOOLS + 15; i++) stats.note('c1', { name: `t${String(i).padStart(3, '0')}`, outcome: 'ok', durationMs: 1, memory: { peak: 1, high: 'max', max: 'max' } });
  stats.note('c1', { name: 't000', outcome: 'failed', durationMs: 1, memory: { peak: 1, high: 'max', max: 'max' } });
  stats.note('c2', { name: 'late', outcome: 'ok', durationMs: 1, memory: { peak: 1, high: 'max', max: 'max' } });
  const tools = stats.container('c1');
  t.equal(tools.length, MAX_TOOLS + 1);
  t.equal(tools.find((x) => x.tool === OTHER_TOOL)?.outcomes.ok, 15);
  t.equal(tools.find((x) => x.tool === 't000')?.outcomes.failed, 1, 'a name known before the cap keeps its own series');
  t.same(stats.container('c2').map((x) => x.tool), ['late'], 'another container has its own cap');
  stats.forgetContainer('c1');
  t.same(stats.container('c1'), []);

  const snap = sampleSnapshot();
  const call = snap.containers[0]!.calls[0]!;
  snap.containers[0]!.calls = Array.from({ length: MAX_TOOLS + 5 }, (_, i) => ({ ...call, id: `x${i}`, name: `n${String(i).padStart(3, '0')}` }));
  const { samples } = parse(renderPrometheus(snap));
  const running = find(samples, 'agentcgroup_tool_calls_running', { state: 'throttled' });
  t.equal(running.length, MAX_TOOLS + 1, 'running calls are folded the same way');
  t.equal(running.find((s) => s.labels.tool === OTHER_TOOL)?.value, 5);
});

t.test('containers running uncarved: a gauge of how many, and one info series each', async (t) => {
  const snap = { ...sampleSnapshot(), uncarved: [{ id: 'u1', at: '2025-01-01T10:00:00.000Z', stage: 'createRuntime' as const, reason: 'EACCES "x"' }] };
  const { samples } = parse(renderPrometheus(snap));
  t.equal(find(samples, 'agentcgroup_containers_uncarved')[0]?.value, 1);
  t.same(find(samples, 'agentcgroup_uncarved_container_info').map((s) => s.labels), [{ container_id: 'u1', stage: 'createRuntime' }], 'the reason is no label (unbounded text): status and top show it');
  t.same(find(parse(renderPrometheus(sampleSnapshot())).samples, 'agentcgroup_containers_uncarved'), [], 'no sample from a daemon that does not report them');
  t.equal(find(parse(renderPrometheus({ ...sampleSnapshot(), uncarved: [] })).samples, 'agentcgroup_containers_uncarved')[0]?.value, 0);
});

t.test('hostile call names and container ids are escaped, and read back exactly', async (t) => {
  const hostile = 'a\\b"c\nd} x="1",\u001b[2J';
  const snap = sampleSnapshot(hostile);
  snap.containers[0]!.id = 'c"\\\n';
  const text = renderPrometheus(snap);
  const { samples } = parse(text);
  const mine = find(samples, 'agentcgroup_tool_calls_running', { tool: hostile, state: 'frozen' });
  t.equal(mine.length, 1, 'the hostile name survives the round trip');
  t.equal(mine[0]?.labels.container_id, 'c"\\\n');
  t.notOk(text.split('\n').some((l) => l.startsWith('d}')), 'no line is started by a label value');
});

t.test('escaping and values, one by one', async (t) => {
  t.equal(escapeLabelValue('plain'), 'plain');
  t.equal(escapeLabelValue('a\\b'), 'a\\\\b');
  t.equal(escapeLabelValue('say "hi"'), 'say \\"hi\\"');
  t.equal(escapeLabelValue('one\ntwo'), 'one\\ntwo');
  t.equal(escapeHelp('a\\b\nc "q"'), 'a\\\\b\\nc "q"', 'help keeps quotes');
  t.equal(formatValue(Infinity), '+Inf');
  t.equal(formatValue(-Infinity), '-Inf');
  t.equal(formatValue(NaN), 'NaN');
  t.equal(formatValue(0.25), '0.25');
  t.equal(formatValue(2 ** 40), '1099511627776');
});

t.test('no containers: the daemon families alone, still valid', async (t) => {
  const { samples, types } = parse(renderPrometheus({ containers: [], calls: 0, tracker: false, trackerCounts: null, at: '2025-01-01T00:00:00.000Z' }));
  t.same(samples.map((s) => `${s.name} ${s.value}`), ['agentcgroup_build_info 1', 'agentcgroup_tracker_up 0', 'agentcgroup_containers 0', 'agentcgroup_tool_calls 0']);
  t.ok(types.has('agentcgroup_tool_calls_running') && types.has('agentcgroup_tool_call_duration_seconds'), 'families are declared even when empty');
  t.equal(types.get('agentcgroup_tracker_events_dropped_total'), 'counter', 'without counts too: a scraper sees the family, with no sample');
});

t.test('the tracker families: counters named as Prometheus names counters, each with one unlabelled sample', async (t) => {
  const { samples, types, helps } = parse(renderPrometheus(sampleSnapshot()));
  const tracker = [...types.keys()].filter((n) => n.startsWith('agentcgroup_tracker_'));
  t.same(tracker, [
    'agentcgroup_tracker_up',
    'agentcgroup_tracker_events_total',
    'agentcgroup_tracker_events_dropped_total',
    'agentcgroup_tracker_drain_batches_total',
    'agentcgroup_tracker_rescans_total',
  ]);
  for (const name of tracker.slice(1)) {
    t.equal(types.get(name), 'counter', name);
    t.same(find(samples, name).map((s) => s.labels), [{}], `${name}: one sample, no labels`);
  }
  t.match(helps.get('agentcgroup_tracker_events_dropped_total'), /ring buffer all containers share was full/);
});

t.test('agentcgroup_nri_up: 1 while registered with the runtime, 0 otherwise, no sample from a daemon without the link', async (t) => {
  const up = (nri: ReturnType<typeof sampleSnapshot>['nri']) => {
    const { nri: _, ...older } = sampleSnapshot();
    return renderPrometheus(nri === undefined ? older : { ...older, nri })
      .split('\n')
      .filter((l) => l.startsWith('agentcgroup_nri_up'));
  };
  t.same(up({ state: 'connected', detail: 'x' }), ['agentcgroup_nri_up 1']);
  t.same(up({ state: 'waiting', detail: 'x' }), ['agentcgroup_nri_up 0']);
  t.same(up({ state: 'off', detail: 'x' }), ['agentcgroup_nri_up 0']);
  t.same(up(undefined), []);
  t.match(renderPrometheus(sampleSnapshot()), /^# TYPE agentcgroup_nri_up gauge$/m, 'the family is declared all the same');
});

t.test('agentcgroup_sched_ext_*: up while it runs, run seconds by class; nothing from a daemon without it', async (t) => {
  const lines = (scheduler?: DaemonSnapshot['scheduler']) => {
    const { scheduler: _, ...older } = sampleSnapshot();
    return renderPrometheus(scheduler === undefined ? older : { ...older, scheduler })
      .split('\n')
      .filter((l) => l.startsWith('agentcgroup_sched_ext_'));
  };
  t.same(lines({ state: 'running', detail: 'x', classes: 2, runSeconds: { agent: 1.5, toolHigh: 0, tool: 0.25, toolLow: 0, other: 3, supervisor: 0.5 } }), [
    'agentcgroup_sched_ext_up 1',
    'agentcgroup_sched_ext_run_seconds_total{class="agent"} 1.5',
    'agentcgroup_sched_ext_run_seconds_total{class="toolHigh"} 0',
    'agentcgroup_sched_ext_run_seconds_total{class="tool"} 0.25',
    'agentcgroup_sched_ext_run_seconds_total{class="toolLow"} 0',
    'agentcgroup_sched_ext_run_seconds_total{class="other"} 3',
    'agentcgroup_sched_ext_run_seconds_total{class="supervisor"} 0.5',
  ]);
  t.same(lines({ state: 'ejected', detail: 'x', classes: 0, runSeconds: null }), ['agentcgroup_sched_ext_up 0']);
  t.same(lines({ state: 'off', detail: 'x', classes: 0, runSeconds: null }), ['agentcgroup_sched_ext_up 0']);
  t.same(lines(undefined), []);
});
