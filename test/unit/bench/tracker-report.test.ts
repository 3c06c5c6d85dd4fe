import t from 'tap';
import { type Sample, report } from '../../../bench/tracker/report.js';

const MiB = 1 << 20;
const sample = (mode: Sample['mode'], kind: Sample['kind'], agentBytes: number | null, wallUs = 1000, placedUs: number | null = 500): Sample => ({ mode, kind, agentBytes, wallUs, placedUs });

t.test('both modes side by side, p50 / p99, and the goal', async (t) => {
  const samples = [
    ...[0, 0, 4096].map((b) => sample('hold', 'dd', b)),
    ...[0, 8 * MiB, 64 * MiB].map((b) => sample('no hold', 'dd', b)),
    sample('hold', 'python', 0),
    sample('no hold', 'python', 2 * MiB),
    sample('hold', 'cache', 0),
    sample('no hold', 'cache', 64 * MiB),
    sample('hold', 'true', null, 3000, 2000),
    sample('no hold', 'true', null, 1000, 800),
  ];
  const lines = report(samples);
  t.match(lines.find((l) => l.includes('dd bs=64M')), /0\.00 MiB \/ 0\.00 MiB\s+8\.00 MiB \/ 64\.00 MiB/);
  t.match(lines.find((l) => l.includes('page cache')), /0\.00 MiB \/ 0\.00 MiB\s+64\.00 MiB \/ 64\.00 MiB/);
  t.match(lines.find((l) => l.includes('gains')), /2\.0 ms \/ 2\.0 ms/);
  t.match(lines.at(-1), /goal: .*: met \(worst p99 0\.00 MiB\)/);
  t.match(report([...samples, sample('hold', 'cache', 2 * MiB)]).at(-1), /missed \(worst p99 2\.00 MiB\)/);
});
