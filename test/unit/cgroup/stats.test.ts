// One representation of "no limit" for cgroup values (the word max, never Infinity), and the one
// reader of a cgroup's memory that a call's record, the supervisor and status all use.
import t from 'tap';
import { parseCount, parseLimit, readMemoryStatus } from '../../../src/cgroup/stats.js';
import { readCallStats } from '../../../src/exec/callcgroup.js';

t.test('limit files keep max as the word; counters are never max', async (t) => {
  t.equal(parseLimit('max\n'), 'max');
  t.equal(parseLimit('33554432\n'), 33554432);
  t.equal(parseCount('4096\n'), 4096);
  t.throws(() => parseCount('max\n'), /not a cgroup number: "max"/);
  t.throws(() => parseLimit('12M'), /not a cgroup number/);
});

/** A cgroup as its files' text; absent files throw as cgroupfs does. */
const cgroup = (files: Record<string, string>) => ({
  read(cg: string, file: string): string {
    const text = files[file];
    if (cg !== 'c/tools/x' || text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return text;
  },
});

const full = cgroup({
  'memory.current': '8192\n',
  'memory.high': '1048576\n',
  'memory.max': 'max\n',
  'memory.peak': '65536\n',
  'memory.events': 'low 0\nhigh 3\nmax 1\noom 1\noom_kill 1\noom_group_kill 0\n',
  'memory.pressure': 'some avg10=1.00 avg60=0.00 avg300=0.00 total=700\nfull avg10=0.50 avg60=0.00 avg300=0.00 total=300\n',
  'cgroup.events': 'populated 1\nfrozen 0\n',
});

t.test('a call record keeps peak, the memory.events counters and the stall totals', async (t) => {
  t.same(readCallStats(full, 'c/tools/x'), { peak: 65536, max: 'max', events: { high: 3, max: 1, oom: 1, oom_kill: 1 }, pressure: { someUs: 700, fullUs: 300 } });
  t.same(readMemoryStatus(full, 'c/tools/x').max, 'max', 'the same reader: max stays max');
});

t.test('an older kernel (no memory.peak, no pressure) reads as unknown and zero; a cgroup gone throws', async (t) => {
  const old = cgroup({ 'memory.current': '1\n', 'memory.events': 'high 2\n' });
  t.same(readCallStats(old, 'c/tools/x'), { peak: null, max: 'max', events: { high: 2, max: 0, oom: 0, oom_kill: 0 }, pressure: { someUs: 0, fullUs: 0 } });
  t.throws(() => readCallStats(full, 'c/tools/gone'), /no memory\.current/);
});
