// Bounded passes over the ring (src/bpf/batch.ts), driven by a model of libbpf's reader
// (ringmodel.ts): each sample handed over exactly once and in order across passes, whatever stops
// them, and a producer that keeps up no longer keeps the reader for ever.
import t from 'tap';
import fc from 'fast-check';
import { Batch, STOP, checkBudget } from '../../../src/bpf/batch.js';
import { ModelRing, drain, seq, seqOf } from './ringmodel.js';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function ringOf(n: number): ModelRing {
  const ring = new ModelRing();
  ring.push(...range(0, n).map((i) => seq(i)));
  return ring;
}

t.test('without a budget: every sample in order, and the ring found empty', async (t) => {
  const ring = ringOf(10);
  const got: number[] = [];
  t.same(drain(ring, (d) => got.push(seqOf(d))), { events: 10, more: false });
  t.same(got, range(0, 10));
  t.same(drain(ring, () => t.fail('nothing is left')), { events: 0, more: false });
});

t.test('a budget of 4: passes of 4, 4 and 2, no sample twice, the last pass finds the ring empty', async (t) => {
  const ring = ringOf(10);
  const got: number[] = [];
  const passes = [1, 2, 3].map(() => drain(ring, (d) => got.push(seqOf(d)), { maxEvents: 4 }));
  t.same(passes, [
    { events: 4, more: true },
    { events: 4, more: true },
    { events: 2, more: false },
  ]);
  t.same(got, range(0, 10), 'the sample that stopped a pass was consumed: the next pass starts after it');
});

t.test('a budget that ends exactly at the last sample says more: one empty pass settles it', async (t) => {
  const ring = ringOf(4);
  t.same(drain(ring, () => {}, { maxEvents: 4 }), { events: 4, more: true });
  t.same(drain(ring, () => {}, { maxEvents: 4 }), { events: 0, more: false });
});

t.test('a producer that keeps up: a pass without a budget never returns; with one it does, and nothing is lost', async (t) => {
  const storm = () => {
    const ring = ringOf(1);
    let next = 1;
    ring.duringSample = () => ring.push(seq(next++));
    return ring;
  };
  const endless = storm();
  endless.guard = 5000;
  t.throws(() => drain(endless, () => {}), /made 5000 callbacks without returning/, 'plain ring_buffer__consume: the daemon would never get its thread back');
  const ring = storm();
  const got: number[] = [];
  for (let i = 0; i < 3; i++) t.same(drain(ring, (d) => got.push(seqOf(d)), { maxEvents: 100 }), { events: 100, more: true });
  t.same(got, range(0, 300));
  t.equal(ring.records.length - ring.consumer, 1, 'what the producer wrote during the last sample waits for the next pass');
});

t.test('a time budget: the pass stops after the sample during which maxMs had passed', async (t) => {
  const ring = ringOf(10);
  let ms = 1000;
  const clock = () => ms;
  const got: number[] = [];
  const slow = (d: Buffer) => {
    got.push(seqOf(d));
    ms += 2;
  };
  t.same(drain(ring, slow, { maxEvents: 100, maxMs: 5 }, clock), { events: 3, more: true }, '2, 4, then 6 ms: over 5 after the third');
  t.same(drain(ring, slow, { maxEvents: 2, maxMs: 5 }, clock), { events: 2, more: true }, 'whichever limit comes first');
  t.same(drain(ring, slow, { maxEvents: 100, maxMs: 0 }, clock), { events: 1, more: true }, 'maxMs 0: one sample a pass, never none');
  t.same(drain(ring, slow, { maxEvents: 100, maxMs: 1000 }, clock), { events: 4, more: false });
  t.same(got, range(0, 10));
});

t.test('a handler that throws: the pass goes on to its budget, the first error comes after, and its sample is not handed over again', async (t) => {
  const ring = ringOf(6);
  const got: number[] = [];
  const picky = (d: Buffer) => {
    got.push(seqOf(d));
    if (seqOf(d) === 1 || seqOf(d) === 2) throw new Error(`bad ${seqOf(d)}`);
  };
  t.throws(() => drain(ring, picky, { maxEvents: 4 }), /^bad 1$/, 'the first error, not the second');
  t.same(got, [0, 1, 2, 3], 'every sample of the pass was handled');
  t.same(drain(ring, picky, { maxEvents: 4 }), { events: 2, more: false });
  t.same(got, range(0, 6), 'the next pass starts after the pass that threw');
});

t.test('discarded samples are skipped and not counted; one still being written ends the pass', async (t) => {
  const ring = new ModelRing();
  ring.push(seq(0), seq(1, { discard: true }), seq(2), seq(3, { busy: true }), seq(4));
  const got: number[] = [];
  t.same(drain(ring, (d) => got.push(seqOf(d)), { maxEvents: 2 }), { events: 2, more: true }, 'the discarded one took no share of the budget');
  t.same(drain(ring, (d) => got.push(seqOf(d)), { maxEvents: 2 }), { events: 0, more: false }, 'stopped in front of the busy one: its commit wakes the epoll fd');
  ring.records[3]!.busy = false;
  t.same(drain(ring, (d) => got.push(seqOf(d)), { maxEvents: 2 }), { events: 2, more: true });
  t.same(got, [0, 2, 3, 4]);
});

t.test('each sample handed over exactly once and in order, whatever the budgets, discards, errors and concurrent writes', async (t) => {
  const record = fc.record({ discard: fc.boolean(), throws: fc.boolean() });
  const pass = fc.record({ maxEvents: fc.integer({ min: 1, max: 6 }), written: fc.integer({ min: 0, max: 4 }) });
  fc.assert(
    fc.property(fc.array(record, { maxLength: 40 }), fc.array(pass, { minLength: 1, maxLength: 30 }), (records, passes) => {
      const ring = new ModelRing();
      let written = 0;
      const write = (n: number) => {
        for (const r of records.slice(written, written + n)) ring.push(seq(written++, { discard: r.discard }));
      };
      write(records.length / 2);
      const got: number[] = [];
      for (const p of passes) {
        // Some of the rest arrives while the pass runs.
        let budget = p.written;
        ring.duringSample = () => budget-- > 0 && write(1);
        const handle = (d: Buffer) => {
          got.push(seqOf(d));
          if (records[seqOf(d)]!.throws) throw new Error('handler');
        };
        let d: { events: number } | undefined;
        try {
          d = drain(ring, handle, { maxEvents: p.maxEvents });
        } catch (err) {
          if ((err as Error).message !== 'handler') throw err;
        }
        if (d && d.events > p.maxEvents) return false;
      }
      ring.duringSample = undefined;
      write(records.length);
      drain(ring, (d) => got.push(seqOf(d)));
      const kept = range(0, records.length).filter((i) => !records[i]!.discard);
      return JSON.stringify(got) === JSON.stringify(kept);
    }),
    { numRuns: 300 },
  );
});

t.test('only the pass\'s own STOP is taken out of libbpf\'s return; any other negative number is a failure', async (t) => {
  const running = new Batch(() => {}, { maxEvents: 5 });
  running.sample(Buffer.alloc(8));
  t.equal(running.settle(-22), -22, 'a pass that did not stop: libbpf failed');
  t.equal(running.settle(1), 1);
  const stopped = new Batch(() => {}, { maxEvents: 1 });
  t.equal(stopped.sample(Buffer.alloc(8)), STOP);
  t.ok(STOP < 0, 'libbpf stops only on a negative return');
  t.equal(stopped.settle(STOP), 0);
  t.equal(stopped.sample(Buffer.alloc(8)), STOP, 'offered after the stop, a sample is still handled (libbpf has moved past it)');
  t.same(stopped.result(), { events: 2, more: true });
});

t.test('a budget is a whole number of events, at least 1, and a finite time', async (t) => {
  for (const maxEvents of [0, -1, 1.5, NaN, Infinity]) t.throws(() => checkBudget({ maxEvents }), { code: 'bpf-ringbuf', message: /maxEvents must be a whole number of at least 1/ }, `maxEvents ${maxEvents}`);
  for (const maxMs of [-1, NaN, Infinity]) t.throws(() => checkBudget({ maxEvents: 1, maxMs }), { message: /maxMs must be a finite number of at least 0/ }, `maxMs ${maxMs}`);
  t.throws(() => new Batch(() => {}, { maxEvents: 0 }), /maxEvents/, 'checked before any pass');
  t.doesNotThrow(() => checkBudget({ maxEvents: 1, maxMs: 0 }));
});
