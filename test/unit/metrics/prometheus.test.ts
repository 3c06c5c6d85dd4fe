import t from 'tap';
import { escapeHelp, escapeLabelValue, formatValue, renderPrometheus } from '../../../src/metrics/prometheus.js';
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
    if (name !== current) throw new Error(`sample ${name} outside its family (${current})`);
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
  }
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
    t.ok(type === 'counter' ? name.endsWith('_total') : type === 'gauge' && !name.endsWith('_total'), `${name}: ${type}`);
  }
  for (const s of samples) t.ok(types.has(s.name), `${s.name} is declared`);
});

t.test('the numbers of the snapshot, per container, agent leaf and call', async (t) => {
  const { samples } = parse(renderPrometheus(sampleSnapshot()));
  const value = (name: string, labels: Record<string, string> = {}) => {
    const hit = find(samples, name, labels);
    t.equal(hit.length, 1, `one ${name} ${JSON.stringify(labels)}`);
    return hit[0]?.value;
  };
  const hog = { container: 'agent-1', call: 'hog-m1abc-0a1b2c', name: 'hog' };
  t.equal(value('agentcgroup_tracker_up'), 1);
  t.equal(value('agentcgroup_tracker_events_total'), 5317);
  t.equal(value('agentcgroup_tracker_events_dropped_total'), 75);
  t.equal(value('agentcgroup_tracker_drain_batches_total'), 23);
  t.equal(value('agentcgroup_tracker_rescans_total'), 2);
  t.equal(value('agentcgroup_containers'), 1);
  t.equal(value('agentcgroup_tool_calls'), 2);
  t.equal(value('agentcgroup_container_memory_current_bytes', { container: 'agent-1' }), 80 << 20);
  t.equal(value('agentcgroup_container_memory_high_bytes', { container: 'agent-1' }), 230 << 20);
  t.equal(value('agentcgroup_agent_memory_max_bytes', { container: 'agent-1' }), Infinity, 'max is +Inf');
  t.equal(value('agentcgroup_call_memory_current_bytes', hog), 40 << 20);
  t.equal(value('agentcgroup_call_memory_peak_bytes', hog), 41 << 20);
  t.equal(find(samples, 'agentcgroup_call_memory_peak_bytes', { call: 'idle-m1abd-3d4e5f' }).length, 0, 'no peak where the kernel has none');
  t.equal(value('agentcgroup_call_memory_events_total', { ...hog, event: 'high' }), 17);
  t.equal(value('agentcgroup_call_memory_pressure_avg10_ratio', { ...hog, kind: 'full' }), 0.4825);
  t.equal(value('agentcgroup_call_memory_pressure_stall_seconds_total', { ...hog, kind: 'some' }), 3.5);
  t.equal(value('agentcgroup_call_state', { ...hog, state: 'throttled' }), 1);
  t.equal(value('agentcgroup_call_state', { ...hog, state: 'running' }), 0);
  t.equal(value('agentcgroup_call_frozen', { call: 'idle-m1abd-3d4e5f' }), 1);
  t.equal(value('agentcgroup_call_memory_high_raises_total', hog), 3);
  t.equal(value('agentcgroup_call_stalls_resolved_total', hog), 1);
  t.equal(value('agentcgroup_container_freezes_total', { container: 'agent-1' }), 1);
  t.equal(value('agentcgroup_container_kills_total', { container: 'agent-1' }), 0);
});

t.test('hostile call names and container ids are escaped, and read back exactly', async (t) => {
  const hostile = 'a\\b"c\nd} x="1",\u001b[2J';
  const snap = sampleSnapshot(hostile);
  snap.containers[0]!.id = 'c"\\\n';
  const text = renderPrometheus(snap);
  const { samples } = parse(text);
  const mine = find(samples, 'agentcgroup_call_memory_current_bytes', { name: hostile });
  t.equal(mine.length, 1, 'the hostile name survives the round trip');
  t.equal(mine[0]?.labels.container, 'c"\\\n');
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
  t.same(samples.map((s) => `${s.name} ${s.value}`), ['agentcgroup_tracker_up 0', 'agentcgroup_containers 0', 'agentcgroup_tool_calls 0']);
  t.ok(types.has('agentcgroup_call_state'), 'families are declared even when empty');
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
