import t from 'tap';
import { type Sample, report } from '../../../bench/cri/report.js';

const sample = (mode: Sample['mode'], podMs: number, containerMs: number): Sample => ({ mode, podMs, containerMs });

t.test('every mode measured, min / median / max and the medians against bare', async (t) => {
  const lines = report([
    sample('bare', 1000, 400), sample('bare', 1200, 500), sample('bare', 1100, 450),
    sample('shim', 2000, 900), sample('shim', 2400, 1000), sample('shim', 2200, 950),
    sample('NRI', 1100, 500),
  ]);
  t.equal(lines.length, 2 + 3, 'a header, a rule and a row per mode measured');
  t.match(lines.find((l) => l.startsWith('| bare |')), /\| 3 \| 1000 \/ 1100 \/ 1200 \| 1\.00x \| 400 \/ 450 \/ 500 \| 1\.00x \|/);
  t.match(lines.find((l) => l.startsWith('| shim |')), /\| 3 \| 2000 \/ 2200 \/ 2400 \| 2\.00x \| 900 \/ 950 \/ 1000 \| 2\.11x \|/);
  t.match(lines.find((l) => l.startsWith('| NRI |')), /\| 1 \| 1100 \/ 1100 \/ 1100 \| 1\.00x \| 500 \/ 500 \/ 500 \| 1\.11x \|/);
  t.notOk(lines.some((l) => l.startsWith('| bare, plugin registered')), 'a mode with no sample has no row');
});

t.test('no bare sample: no ratio to give', async (t) => {
  t.match(report([sample('NRI', 1000, 400)]).at(-1), /\| NRI \| 1 \| 1000 \/ 1000 \/ 1000 \| - \| 400 \/ 400 \/ 400 \| - \|/);
});
