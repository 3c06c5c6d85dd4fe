import t from 'tap';
import { DropWatch, MAX_DEFERRED_BATCHES } from '../../../src/bpf/drops.js';

t.test('no loss, no rescan; a loss found with the ring drained is due at once, and only once', async (t) => {
  const w = new DropWatch();
  t.equal(w.afterDrain(0n, false), 0n);
  t.equal(w.afterDrain(0n, true), 0n);
  t.equal(w.afterDrain(5n, false), 5n, 'the rise since the last look');
  t.equal(w.afterDrain(5n, false), 0n, 'the counter is a total: the same total is no new loss');
  t.equal(w.afterDrain(7n, false), 2n);
});

t.test('while the ring is still full the rescan waits, and then makes up for everything lost meanwhile', async (t) => {
  const w = new DropWatch(4);
  t.equal(w.afterDrain(10n, true), 0n, 'a storm: the rescan would only see part of what it left');
  t.equal(w.afterDrain(30n, true), 0n);
  t.equal(w.afterDrain(30n, false), 30n, 'the ring emptied: all 30');
});

t.test('a ring that never empties still gets a rescan every maxDeferred batches', async (t) => {
  const w = new DropWatch(3);
  t.same([w.afterDrain(1n, true), w.afterDrain(2n, true), w.afterDrain(3n, true)], [0n, 0n, 3n], 'the third batch');
  t.same([w.afterDrain(3n, true), w.afterDrain(3n, true)], [0n, 0n], 'nothing new lost: nothing owed, however long the storm');
  t.same([w.afterDrain(4n, true), w.afterDrain(4n, true), w.afterDrain(4n, true)], [0n, 0n, 1n], 'counted again from the next loss');
  t.equal(MAX_DEFERRED_BATCHES, 32);
});

t.test('a counter below the last look is a tracker opened afresh: its whole count is new', async (t) => {
  const w = new DropWatch();
  t.equal(w.afterDrain(100n, false), 100n);
  t.equal(w.afterDrain(4n, false), 4n);
});
