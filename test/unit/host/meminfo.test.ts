// /proc/meminfo is read in one place: the carve's session size and the supervisor's host budget.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostMemoryBytes, parseMeminfo, readMeminfo } from '../../../src/host/meminfo.js';

const TEXT = 'MemTotal:        8388608 kB\nMemFree:         1024 kB\nMemAvailable:    4194304 kB\nActive(anon):      12 kB\nHugePages_Total:       0\n';

t.test('kB lines in bytes, other lines left out', async (t) => {
  t.same(parseMeminfo(TEXT), { MemTotal: 8 * 2 ** 30, MemFree: 1 << 20, MemAvailable: 4 * 2 ** 30, 'Active(anon)': 12 * 1024 });
});

t.test('MemTotal is the host memory; no file or no line is one no-meminfo line', async (t) => {
  const dir = t.testdir();
  t.throws(() => readMeminfo(dir), { code: 'no-meminfo', message: `cannot read ${dir}/meminfo: ENOENT` });
  writeFileSync(join(dir, 'meminfo'), TEXT);
  t.equal(hostMemoryBytes(dir), 8 * 2 ** 30);
  writeFileSync(join(dir, 'meminfo'), 'MemFree: 1 kB\n');
  t.throws(() => hostMemoryBytes(dir), { code: 'no-meminfo', message: `${dir}/meminfo has no MemTotal line` });
});
