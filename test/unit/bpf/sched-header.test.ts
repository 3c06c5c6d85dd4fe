// The loader's view of the scheduler (SCHED_CLASSES, SCHED_STATS in src/bpf/sched.ts) against the header
// the BPF side is compiled with (bpf/sched/agentsched.h): a class or counter added on one side only
// would put classes in the wrong queue or read counters from the wrong slots, with no error anywhere.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { SCHED_CLASSES, SCHED_STATS } from '../../../src/bpf/sched.js';

const header = readFileSync(new URL('../../../bpf/sched/agentsched.h', import.meta.url), 'utf8');
const defines = new Map([...header.matchAll(/^#define (\w+) (\d+)\b/gm)].map((m) => [m[1]!, Number(m[2])]));
const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

t.test('every class has the number the header gives it, and the header has no other', async (t) => {
  for (const [name, n] of Object.entries(SCHED_CLASSES)) t.equal(defines.get(`CLASS_${snake(name)}`), n, name);
  const inHeader = [...defines.keys()].filter((k) => k.startsWith('CLASS_'));
  t.equal(inHeader.length, Object.keys(SCHED_CLASSES).length, `header classes: ${inHeader.join(' ')}`);
  t.equal(defines.get('NR_CLASSES'), Object.keys(SCHED_CLASSES).length);
});

t.test('every counter is read from its slot: STAT_* in order, then run time by class', async (t) => {
  const runNs = defines.get('STAT_RUN_NS');
  t.type(runNs, 'number');
  SCHED_STATS.forEach((name, slot) => {
    if (name.startsWith('runNs')) t.equal(runNs! + defines.get(`CLASS_${snake(name.slice(5)).slice(1)}`)!, slot, name);
    else t.equal(defines.get(`STAT_${snake(name)}`), slot, name);
  });
  t.equal(runNs! + defines.get('NR_CLASSES')!, SCHED_STATS.length, 'NR_STATS is the loader\'s count');
});
