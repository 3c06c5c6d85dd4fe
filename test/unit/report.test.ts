// `agentcgroup report`: the per-tool and per-container figures from call logs, read in one streaming
// pass; against hand-made logs whose answers are known, and against call logs the daemon wrote in a
// real guest run of the replay benchmark (test/fixtures/calls/, recorded 2026-12-02).
import t from 'tap';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReportBuilder, quantile } from '../../src/report/aggregate.js';
import { callLogs, parseRecordLine, parseSince, readCallLogs } from '../../src/report/calllog.js';
import { renderReport } from '../../src/report/render.js';
import { runCli } from '../fixtures/cli.js';
import { fakeDaemon, policyIn, shortDir } from '../fixtures/fakeadmin.js';
import { sampleSnapshot } from '../fixtures/snapshot.js';

const MiB = 1 << 20;
const rec = (name: string, peakMiB: number, durationMs: number, more: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: `${name}-x`, container: 'c1', name, argv: [name], cgroup: 'c/tools/x', start: '2026-12-01T10:00:00.000Z', end: '2026-12-01T10:00:01.000Z',
    durationMs, exit: 0, signal: null, outcome: 'ok', memory: { peak: peakMiB * MiB, high: 100 * MiB, max: 200 * MiB },
    events: { high: 0, max: 0, oom: 0, oom_kill: 0 }, pressure: { someUs: 0, fullUs: 0 }, ...more,
  });

t.test('quantiles are nearest-rank', async (t) => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(quantile(xs, 0.5), 50);
  t.equal(quantile(xs, 0.95), 95);
  t.equal(quantile([7], 0.95), 7);
});

t.test('figures per tool and per container from hand-made logs', async (t) => {
  const dir = t.testdir({
    'c1.jsonl': [
      ...Array.from({ length: 20 }, (_, i) => rec('pytest', 10 * (i + 1), 100 * (i + 1), { agentMemory: (180 + (i % 3) * 5) * MiB })),
      rec('git', 5, 50),
      rec('git', 7, 70, { events: { high: 3, max: 0, oom: 0, oom_kill: 0 }, pressure: { someUs: 9000, fullUs: 4000 } }),
      rec('make', 300, 2000, { outcome: 'oom-killed', exit: null, signal: 'SIGKILL' }),
      rec('make', 150, 900, { outcome: 'killed', signal: 'SIGKILL', reason: 'ended by agentcgroup: stalled past the deadline' }),
      rec('npm', 1, 10, { outcome: 'failed', exit: 1 }),
      'not json',
      '{"name": 1}',
      '',
    ].join('\n'),
    'c2.jsonl': `${rec('git', 9, 90, { container: 'c2' })}\n`,
    'notes.txt': 'not a log',
  });
  const b = new ReportBuilder();
  await readCallLogs(callLogs(dir), b);
  const r = b.build();
  t.equal(r.records, 26);
  t.equal(r.skipped, 2, 'a line that is no record is counted, not fatal');
  t.same(r.tools.map((x) => [x.tool, x.count]), [['pytest', 20], ['git', 3], ['make', 2], ['npm', 1]], 'by call count');
  const pytest = r.tools[0]!;
  t.same(pytest.durationMs, { p50: 1000, p95: 1900 });
  t.same(pytest.peak, { p50: 100 * MiB, p95: 190 * MiB, max: 200 * MiB });
  const git = r.tools[1]!;
  t.equal(git.throttled, 1);
  t.equal(git.stallMs, 4, 'PSI full, µs summed, in ms');
  const make = r.tools[2]!;
  t.match(make, { oomKilled: 1, ladderKilled: 1 }, 'the kernel\'s kill and the ladder\'s told apart');
  t.equal(r.tools[3]!.failed, 1);
  t.same(r.containers.map((c) => [c.container, c.calls, c.oomKilled]), [['c1', 25, 1], ['c2', 1, 0]], 'by the log file: the container is its name');
  t.equal(r.containers[0]!.peakMax, 300 * MiB);
  t.equal(r.containers[0]!.framework, 185 * MiB, "the framework's baseline: the median agent leaf as calls began");
  t.equal(r.containers[0]!.atPeak, (185 + 200) * MiB, 'the most held at a call peak: that call\'s framework plus its peak');
  t.equal(r.containers[0]!.peakToBaseline?.toFixed(2), (385 / 185).toFixed(2));
  t.equal(r.containers[1]!.framework, null, 'no call says: not known, not 0');

  const text = renderReport(r);
  t.match(text, /^26 tool calls from 2 containers; 2 lines not a call record, skipped\n/);
  t.match(text, /^pytest\s+20\s+1\.0s\s+1\.9s\s+100M\s+190M\s+200M\s+#{8}\.{4}\s+0\s+0\s+0\s+0\s+0ms$/m, 'aligned, a bar of p95 against the largest peak (300M)');
  t.match(text, /^c1\s+25\s+\S+\s+185M\s+300M\s+385M\s+2\.1x\s+1$/m, 'per container: framework, largest call, at peak, the ratio');
  t.match(text, /^c2\s+1\s+90ms\s+-\s+9M\s+-\s+-\s+0$/m);

  const one = new ReportBuilder();
  await readCallLogs(callLogs(dir, 'c2'), one);
  t.equal(one.build().records, 1, '--container reads that log alone');
  const late = new ReportBuilder();
  await readCallLogs(callLogs(dir), late, Date.parse('2026-12-01T11:00:00Z'));
  t.equal(late.build().records, 0, '--since drops older calls');
});

t.test('text from containers is shown escaped', async (t) => {
  const b = new ReportBuilder();
  const r = parseRecordLine(rec('evil\u001b[2J\nname', 1, 1), 'c1');
  t.ok(r);
  b.add(r!);
  t.notMatch(renderReport(b.build()), /\u001b/, 'no terminal escape reaches the terminal');
});

t.test('--since and bad input: one line, exit 1', async (t) => {
  const now = Date.parse('2026-12-02T00:00:00Z');
  t.equal(parseSince('12h', now), now - 12 * 3600e3);
  t.equal(parseSince('7d', now), now - 7 * 86400e3);
  t.equal(parseSince('2026-12-01T10:00:00Z', now), Date.parse('2026-12-01T10:00:00Z'));
  t.throws(() => parseSince('yesterday', now), /expected a duration back from now/);
  const dir = t.testdir({});
  for (const [args, pattern] of [
    [['report', '--dir', join(dir, 'none')], /^agentcgroup: report: cannot read the call log directory \S+\/none \(ENOENT\)\n$/],
    [['report', '--dir', dir, '--container', 'nope'], /^agentcgroup: report: no call log for container "nope" in /],
    [['report', '--dir', dir, '--container', '../etc'], /^agentcgroup: report: .*container id/],
    [['report', '--dir', dir, '--since', 'soon'], /^agentcgroup: report: --since "soon": expected/],
  ] as const) {
    const r = await runCli([...args]);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.err, pattern);
  }
  const empty = await runCli(['report', '--dir', dir]);
  t.equal(empty.code, 0);
  t.equal(empty.out, '0 tool calls from 0 containers\n');
  writeFileSync(join(dir, 'c9.jsonl'), `${rec('git', 1, 1)}\n`);
  const json = await runCli(['report', '--dir', dir, '--json']);
  t.match(JSON.parse(json.out), { records: 1, tools: [{ tool: 'git', count: 1 }] });
});

t.test('call logs from a real guest run (the replay benchmark, mode d)', async (t) => {
  const dir = 'test/fixtures/calls';
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  t.ok(files.length >= 2, 'recorded logs are there');
  const b = new ReportBuilder();
  await readCallLogs(callLogs(dir), b);
  const r = b.build();
  t.equal(r.skipped, 0, 'every line the daemon wrote is a call record');
  t.equal(r.containers.length, files.length);
  t.ok(r.records > 10, `${r.records} calls`);
  t.ok(r.tools.some((x) => x.tool === 'tool'), "the replay's calls run /bin/tool");
  t.ok(r.tools.every((x) => x.peak !== null && x.peak.max > 0), 'every tool has peaks from the kernel');
  t.ok(r.containers.every((c) => c.framework !== null && c.framework > 0 && c.peakToBaseline !== null && c.peakToBaseline >= 1), "every container's framework baseline, from the daemon's reads of its agent leaf", { containers: r.containers });
  t.match(renderReport(r), /^TOOL\s+CALLS\s+P50/m);
});

t.test('tune: each rule from logs that argue for it, with its evidence; quiet logs, no advice', async (t) => {
  const advise = async (lines: string[]) => {
    const { advise: a, renderAdvice } = await import('../../src/report/tune.js');
    const b = new ReportBuilder();
    for (const l of lines) b.add(parseRecordLine(l, 'c1')!);
    const r = b.build();
    return { advice: a(r), text: renderAdvice(r, a(r)) };
  };
  const throttled = { events: { high: 4, max: 0, oom: 0, oom_kill: 0 } };
  const oom = { outcome: 'oom-killed', exit: null, signal: 'SIGKILL', events: { high: 0, max: 1, oom: 1, oom_kill: 1 } };
  const quiet = Array.from({ length: 25 }, () => rec('git', 5, 10));
  t.same((await advise(quiet)).advice.map((a) => a.key), ['tool.memory_high'], 'a zone never reached (peaks 5M against memory.high 100M)');
  t.match((await advise(quiet)).advice[0]!.change, /could come down toward 7\.5M/);
  t.same((await advise(Array.from({ length: 5 }, () => rec('git', 5, 10)))).advice, [], 'too few calls to judge the zone');
  t.match((await advise(Array.from({ length: 5 }, () => rec('git', 5, 10)))).text, /nothing to change/);

  const zone = await advise([rec('make', 200, 1000, { ...oom, events: { high: 9, max: 1, oom: 1, oom_kill: 1 } }), rec('make', 150, 900)]);
  t.same(zone.advice.map((a) => a.key), ['tool.memory_max']);
  t.match(zone.advice[0]!.evidence, /^1 of 2 calls of make were throttled at memory\.high and still OOM-killed at memory\.max \(peak p95 200M, max 200M; memory\.high 100M, memory\.max 200M\)$/);
  t.match((await advise([rec('npm', 300, 10, oom)])).advice[0]!.change, /went past memory\.high and memory\.max at once/);

  const stalled = await advise([rec('pytest', 99, 5000, { outcome: 'killed', signal: 'SIGKILL', reason: 'ended by agentcgroup: throttled at memory.high for 30s (limit 30s) without progress' })]);
  t.same(stalled.advice.map((a) => a.key), ['tool.memory_high']);
  const frozen = await advise([rec('pytest', 50, 5000, { outcome: 'killed', signal: 'SIGKILL', reason: 'ended by agentcgroup: frozen for 30s (limit 30s) while memory was short' })]);
  t.same(frozen.advice.map((a) => a.key), ['session']);

  const tight = await advise([...Array.from({ length: 10 }, () => rec('cargo', 98, 100, throttled)), ...Array.from({ length: 20 }, () => rec('cargo', 60, 100))]);
  t.same(tight.advice.map((a) => a.key), ['tool.memory_high'], 'a third throttled, all finished');
  t.match(tight.advice[0]!.change, /raise tool\.memory_high to about the calls' p95 peak \(98M\)/);
  t.match(tight.text, /^30 tool calls from 1 container: 1 suggestion \(advice only: no policy was changed\)\n\ntool\.memory_high: .*\n {2}because 10 of 30 calls of cargo were throttled/);

  const evil = await advise([rec('x\u001b]0;pwned\u0007', 300, 10, oom)]);
  t.notMatch(evil.text, /[\u001b\u0007]/, 'a tool name is the container\'s text: escaped');
});

t.test('tune on the command line, on the recorded guest logs; with a daemon, its counters too', async (t) => {
  const alone = policyIn(shortDir(t));
  const r = await runCli(['tune', '--dir', 'test/fixtures/calls', '--policy', alone]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^62 tool calls from 3 containers \(the daemon's counters not read: the agentcgroup daemon is not reachable at .*\): /, 'no daemon: said, and the logs alone');
  const json = await runCli(['tune', '--dir', 'test/fixtures/calls', '--json', '--policy', alone]);
  t.match(JSON.parse(json.out), { records: 62, daemon: /not reachable/, advice: Array });

  // The sample snapshot's one container: 3 raises (2 stalls, 1 resolved) and 1 freeze.
  const d = await fakeDaemon(t, () => ({ v: 1, ok: true, ...sampleSnapshot() }));
  const withDaemon = await runCli(['tune', '--dir', 'test/fixtures/calls', '--policy', d.policy]);
  t.equal(withDaemon.code, 0, withDaemon.err);
  t.same(d.ops, ['snapshot']);
  t.match(withDaemon.out, /^62 tool calls from 3 containers and the daemon's counters for 1 container: 3 suggestions/, "the logs' one (a zone never reached) and the daemon's two");
  t.match(withDaemon.out, /\ntool\.memory_high: calls keep needing more than tool\.memory_high.*\n {2}because the daemon raised memory\.high 3 times for stalled calls, 1 of 2 stalls ended with the call running on/);
  t.match(withDaemon.out, /\nsession: sessions ran short of memory.*\n {2}because the daemon froze calls 1 time to make room/);
});
