import t from 'tap';
import { type Round, daemonLine, markdown, parseBurn, parseProbe, summarize, verdict } from '../../../bench/sched/report.js';

const probe = (p99Us: number) => ({ wakes: 100, p50Us: p99Us / 10, p99Us, maxUs: p99Us * 2 });
const round = (mode: Round['mode'], p99Us: number, same: number, other = same, n = 0, daemonP99Us = 500): Round => ({ mode, round: n, probe: probe(p99Us), daemon: probe(daemonP99Us), burn: { same, other } });

t.test("load.c's lines are read, anything else is not", async (t) => {
  t.same(parseProbe('probe 397 70 3957 11866\n'), { wakes: 397, p50Us: 70, p99Us: 3957, maxUs: 11866 });
  t.equal(parseProbe('probe 1 2 3\n'), undefined);
  t.equal(parseBurn('burn 9633.4\n'), 9633.4);
  t.equal(parseBurn('burn x'), undefined);
});

t.test('per mode: medians over rounds, throughput summed over tool calls', async (t) => {
  const s = summarize([round('weight', 1000, 50, 50, 0), round('weight', 3000, 60, 60, 1), round('weight', 2000, 55, 55, 2), round('none', 9000, 100, 100, 0)]);
  t.same(s.map((m) => m.mode), ['weight', 'none']);
  t.same(s[0]!.p99Us, { min: 1000, median: 2000, max: 3000 });
  t.same(s[0]!.throughput, { min: 100, median: 110, max: 120 });
  t.equal(s[0]!.vsWeight, null, '(b) is not compared with itself');
  t.same(s[1]!.vsWeight, { p99: { min: 9, median: 9, max: 9 }, daemonP99: { min: 1, median: 1, max: 1 }, throughput: { min: 2, median: 2, max: 2 } }, 'against (b) of its own round only');
});

t.test('ratios against (b) pair rounds, so a drift over the run does not read as a difference', async (t) => {
  // The machine speeds up 1.5x over the run; (c) is always 1.0x of (b) in its own round but ran in the
  // slow rounds more often than (b): a ratio of medians would say 0.8x.
  const rounds = [
    round('scx', 1000, 40, 40, 0), round('weight', 2000, 40, 40, 0),
    round('scx', 1000, 40, 40, 1), round('weight', 2000, 40, 40, 1),
    round('weight', 2000, 60, 60, 2), round('scx', 1000, 60, 60, 2),
    round('weight', 2000, 60, 60, 3),
  ];
  const v = verdict(summarize(rounds));
  t.match(v, { p99Ratio: 0.5, throughputRatio: 1, ship: true });
});

t.test("the bar: better p99 than cpu.weight and at most 5% of tool-call throughput", async (t) => {
  const base = [round('weight', 2000, 100)];
  t.match(verdict(summarize([...base, round('scx', 1000, 96)])), { ship: true, p99Ratio: 0.5, why: /at 4\.0% throughput cost$/ });
  t.match(verdict(summarize([...base, round('scx', 1000, 105)])), { ship: true, why: /no throughput cost \(tool calls 5\.0% faster\)$/ });
  t.match(verdict(summarize([...base, round('scx', 1000, 94)])), { ship: false, why: /lost 6\.0% of throughput \(over 5%\)/ });
  t.match(verdict(summarize([...base, round('scx', 2500, 100)])), { ship: false, why: /1\.25x cpu\.weight's \(not better\)/ });
  t.equal(verdict(summarize(base)), undefined, 'no (c): no verdict');
  t.match(markdown(summarize([...base, round('none', 4000, 120)]), ['a note']), /\(a\) no agentcgroup.*\| 4000 \(4000-4000\) \(2\.00 \(2\.00-2\.00\)x\) \|[\s\S]*mode c did not run[\s\S]*- a note/);
});

t.test("the daemon's stand-in: its p99 per mode, and one line for (c) and (c-) against (b)", async (t) => {
  const rounds = [round('weight', 2000, 100, 100, 0, 1000), round('scx', 1000, 100, 100, 0, 500), round('scxHost', 1000, 100, 100, 0, 8000)];
  const s = summarize(rounds);
  t.same(s.find((m) => m.mode === 'scxHost')!.daemonP99Us, { min: 8000, median: 8000, max: 8000 });
  t.equal(daemonLine(s), "the daemon's stand-in waited (p99) 0.50 (0.50-0.50)x as long as under cpu.weight in the supervisor class, 8.00 (8.00-8.00)x as a host task.");
  t.equal(daemonLine(summarize(rounds.slice(0, 2))), undefined, 'without (c-): no line');
  const md = markdown(s, []);
  t.match(md, /\| daemon stand-in p99 µs \(vs b\) \|/);
  t.match(md, /\(c-\) sched_ext as \(c\).*\| 8000 \(8000-8000\) \(8\.00 \(8\.00-8\.00\)x\) \|/);
  t.match(md, /\*\*The daemon:\*\* the daemon's stand-in waited/);
});
