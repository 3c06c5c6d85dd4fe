// test/integration/slowest.ts: the tier's note of where each scenario's time went.
import t from 'tap';
import { describeSlowest, slowest } from '../integration/slowest.js';

t.test('the longest stretches, each named by the record that ended it, longest first', async (t) => {
  const records = [
    { check: 'a', ms: 1000 },
    { check: 'b', ms: 1500 },
    { check: 'c', ms: 9500 },
    { done: true as const, ms: 12500 },
  ];
  t.same(slowest(records, 2), [
    { before: 'c', ms: 8000 },
    { before: '(end)', ms: 3000 },
  ]);
  t.equal(slowest(records, 10).length, 4, 'the first stretch runs from the start');
  t.equal(describeSlowest(records, 1), '8.0 s before "c"');
});

t.test('records without stamps (an older scenario bundle) are passed over', async (t) => {
  t.same(slowest([{ check: 'a' }, { check: 'b', ms: 200 }], 5), [{ before: 'b', ms: 200 }]);
});
