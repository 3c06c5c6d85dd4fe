import t from 'tap';
import { swapLine } from '../../../bench/replay/swap.js';
import { zramAlgorithm } from '../../integration/zram.js';

const HEAD = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n';

t.test('zramAlgorithm: the bracketed compressor', async (t) => {
  t.equal(zramAlgorithm('lzo lzo-rle [lz4] lz4hc 842 zstd\n'), 'lz4');
  t.equal(zramAlgorithm('[lzo-rle] zstd'), 'lzo-rle');
  t.equal(zramAlgorithm(''), 'unknown');
});

t.test('swapLine: what /proc/swaps lists, and who set it up', async (t) => {
  const zram = `${HEAD}/dev/zram0                              partition\t1048572\t\t0\t\t-2\n`;
  t.equal(swapLine(zram, { zram: { device: '/dev/zram0', algorithm: 'lz4' }, native: false }), '/dev/zram0 (zram, lz4, 1.0 GiB); set up by the bench before the first run, for every mode alike');
  t.equal(swapLine(HEAD, { native: false }), 'none (/proc/swaps lists no device: the reclaim rung can free page cache only)');
  t.equal(swapLine(HEAD, { native: true }), 'none (/proc/swaps lists no device on this host: the reclaim rung can free page cache only)');
  const host = `${HEAD}/swapfile file 2097148 0 -2\n/dev/zram0 partition 1048572 10 100\n`;
  t.equal(swapLine(host, { native: true }), "/swapfile (file, 2.0 GiB), /dev/zram0 (partition, 1.0 GiB); this host's own, as it was (--native leaves it alone)");
  t.equal(swapLine(host, { native: false }), '/swapfile (file, 2.0 GiB), /dev/zram0 (partition, 1.0 GiB); already there');
});
