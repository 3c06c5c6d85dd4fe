import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PhaseRun, parseStormLine, report } from '../../../bench/storm/report.js';

t.test("storm's result line reads back; anything else is named", async (t) => {
  t.same(parseStormLine('{"mode":"exec","workers":4,"seconds":10.001,"started":81234,"failed":3,"perSecond":8122.6}\n'), {
    mode: 'exec',
    workers: 4,
    seconds: 10.001,
    started: 81234,
    failed: 3,
    perSecond: 8122.6,
  });
  t.throws(() => parseStormLine('storm: -w: a whole number of workers\n'), /storm printed no result line: "storm: -w/);
  t.throws(() => parseStormLine('{"mode":"exec","workers":4}'), /no number seconds/);
  t.throws(() => parseStormLine('{"mode":"spawn","workers":4,"seconds":1,"started":1,"failed":0,"perSecond":1}'), /no mode/);
});

t.test('one row per phase: placement of the probe calls, the daemon answering, and what the ring lost', async (t) => {
  const quiet: PhaseRun = {
    phase: 'quiet',
    storm: null,
    probes: [1000, 2000, 3000, 4000].map((us) => ({ placedUs: us, held: true })),
    pingUs: [300, 400],
    eventsDropped: 0,
    rescans: 0,
  };
  const storm: PhaseRun = {
    phase: 'storm as the framework',
    storm: { mode: 'exec', workers: 4, seconds: 10, started: 80000, failed: 12, perSecond: 8000.4 },
    probes: [{ placedUs: 50_000, held: true }, { placedUs: null, held: false }, { placedUs: 250_000, held: true }],
    pingUs: [1500, 90_000],
    eventsDropped: 4200,
    rescans: 3,
  };
  const lines = report([quiet, storm]);
  t.equal(lines.length, 4);
  t.match(lines[0], /^\| phase \| storm \| probe calls \| placed p50 \/ p99 \/ max \| not placed by its exec \| held \| admin ping p50 \/ p99 \/ max \| events lost \| rescans \|$/);
  t.equal(lines[2], '| quiet | - | 4 | 2.0 ms / 4.0 ms / 4.0 ms | 0 | 4/4 | 0.3 ms / 0.4 ms / 0.4 ms | 0 | 0 |');
  t.equal(lines[3], '| storm as the framework | exec x4: 8000/s, 12 refused | 3 | 50.0 ms / 250.0 ms / 250.0 ms | 1 | 2/3 | 1.5 ms / 90.0 ms / 90.0 ms | 4200 | 3 |');
  t.match(report([{ ...quiet, phase: 'a|b', probes: [], pingUs: [] }])[2], /^\| a\\\|b \| - \| 0 \| n\/a \/ n\/a \/ n\/a \|/, 'no probes: n/a, and a pipe cannot break the table');
});

t.test('storm.c builds, and a short run of one worker prints a line the report reads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'storm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'storm');
  execFileSync('cc', ['-O2', '-Wall', '-Werror', '-o', bin, 'test/integration/agents/storm.c']);
  for (const mode of ['exec', 'fork'] as const) {
    const line = parseStormLine(execFileSync(bin, ['-w', '1', '-s', '0.05', '-m', mode], { encoding: 'utf8', timeout: 10_000 }));
    t.same([line.mode, line.workers, line.failed], [mode, 1, 0], mode);
    t.ok(line.started > 0 && line.seconds >= 0.05 && line.seconds < 5, `${mode}: ${line.started} in ${line.seconds} s`);
  }
  const failing = parseStormLine(execFileSync(bin, ['-w', '1', '-s', '0.02', '/bin/false'], { encoding: 'utf8', timeout: 10_000 }));
  t.ok(failing.started === 0 && failing.failed > 0, 'a program that fails counts as failed, not started');
  t.throws(() => execFileSync(bin, ['-w', '65'], { stdio: 'pipe' }), /a whole number of workers/, 'bounded: at most 64 workers');
  t.throws(() => execFileSync(bin, ['-s', '601'], { stdio: 'pipe' }), /-s: seconds/, 'and 600 seconds');
});
