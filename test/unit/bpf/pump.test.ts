// The tracker pump (src/bpf/pump.ts) over the libbpf model (ringmodel.ts) and a stand-in event loop:
// bounded batches with other work between them, flushes, rescans for lost events, errors, stop.
import t from 'tap';
import type { Budget } from '../../../src/bpf/batch.js';
import { type PumpEffects, TrackerPump } from '../../../src/bpf/pump.js';
import { RING_CAPACITY } from '../../../src/bpf/tracker.js';
import { ModelRing, drain, seq, seqOf } from './ringmodel.js';

/** setImmediate's queue, run by hand: each task is one turn of the event loop. */
class Loop {
  readonly tasks: { name: string; run: () => void }[] = [];
  readonly ran: string[] = [];
  add(name: string, run: () => void = () => {}): void {
    this.tasks.push({ name, run });
  }
  /** Runs queued tasks (and what they queue) until none is left or `max` ran. */
  run(max = 1000): void {
    for (let i = 0; i < max && this.tasks.length > 0; i++) {
      const task = this.tasks.shift()!;
      this.ran.push(task.name);
      task.run();
    }
  }
}

function setup(opts: { budget?: Budget; maxDeferred?: number; records?: number } = {}) {
  const ring = new ModelRing();
  ring.push(...Array.from({ length: opts.records ?? 0 }, (_, i) => seq(i)));
  const loop = new Loop();
  const got: number[] = [];
  const log = { budgets: [] as Budget[], rescans: [] as bigint[], errors: [] as string[] };
  let onEvent: (d: Buffer) => void = (d) => void got.push(seqOf(d));
  const fx: PumpEffects & { dropped: bigint } = {
    dropped: 0n,
    consume: (budget) => {
      log.budgets.push(budget);
      return drain(ring, (d) => onEvent(d), budget);
    },
    drops: () => fx.dropped,
    schedule: (fn) => loop.add('pump', fn),
    rescan: (lost) => void log.rescans.push(lost),
    onError: (err) => void log.errors.push((err as Error).message),
  };
  const pump = new TrackerPump(fx, opts);
  return { ring, loop, got, log, fx, pump, handle: (h: (d: Buffer) => void) => (onEvent = h) };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

t.test('a kick handles one batch and leaves the rest to later turns; nothing is scheduled once the ring is empty', async (t) => {
  const { loop, got, pump, log } = setup({ budget: { maxEvents: 4 }, records: 10 });
  pump.kick();
  t.same(got, range(4), 'one batch');
  t.same(loop.tasks.map((x) => x.name), ['pump'], 'the rest after a yield');
  loop.run();
  t.same(got, range(10));
  t.same(loop.ran, ['pump', 'pump'], '4, 4, 2');
  t.same(pump.counts(), { events: 10, batches: 3, eventsDropped: 0, rescans: 0 });
  t.same(log.budgets, [{ maxEvents: 4 }, { maxEvents: 4 }, { maxEvents: 4 }]);
});

t.test('a storm in one container: every turn of the loop still serves other work between batches', async (t) => {
  const { ring, loop, got, pump } = setup({ budget: { maxEvents: 50 }, records: 1 });
  let next = 1;
  ring.duringSample = () => ring.push(seq(next++));
  pump.kick();
  for (let i = 0; i < 5; i++) loop.add('exec socket of another container');
  loop.run(10);
  t.same(loop.ran.slice(0, 6), ['pump', ...Array(5).fill('exec socket of another container')], 'the other work ran after one batch, not after the storm');
  t.equal(got.length, 50 * 6, 'a batch a turn, each bounded');
  t.same(got, range(got.length), 'in order, none twice');
  ring.duringSample = undefined;
  loop.run();
  t.same(got, range(next), 'once the storm ends the ring is drained');
  t.equal(loop.tasks.length, 0, 'and nothing more is scheduled');
});

t.test('the default budget bounds a batch by count and by time', async (t) => {
  const { pump, log } = setup();
  pump.kick();
  t.ok(log.budgets[0]!.maxEvents > 0 && log.budgets[0]!.maxEvents <= 1024, `maxEvents ${log.budgets[0]!.maxEvents}`);
  t.ok(log.budgets[0]!.maxMs !== undefined && log.budgets[0]!.maxMs <= 10, `maxMs ${log.budgets[0]!.maxMs}`);
});

t.test('a flush handles all the ring can hold at once; a producer that keeps up gets the rest after a yield', async (t) => {
  const { ring, loop, got, pump, log } = setup({ budget: { maxEvents: 4 }, records: 100 });
  pump.flush();
  t.same(got, range(100), 'all of it, before returning');
  t.same(log.budgets, [{ maxEvents: RING_CAPACITY }]);
  t.equal(loop.tasks.length, 0);
  let next = 100;
  ring.push(seq(next++));
  ring.duringSample = () => ring.push(seq(next++));
  pump.flush();
  t.equal(got.length, 100 + RING_CAPACITY, 'bounded to the ring capacity');
  t.same(loop.tasks.map((x) => x.name), ['pump'], 'the rest is scheduled');
});

t.test('a flush or kick from inside an event handler does nothing: the pass under way goes on', async (t) => {
  const { got, pump, handle, log } = setup({ records: 3 });
  handle((d) => {
    got.push(seqOf(d));
    pump.flush();
    pump.kick();
  });
  pump.flush();
  t.same(got, [0, 1, 2], 'no event twice, no error');
  t.same(log.errors, []);
  t.equal(log.budgets.length, 1);
});

t.test('lost events: a rescan on a later turn, never inside the batch, once the ring is drained', async (t) => {
  const { loop, pump, fx, log } = setup({ budget: { maxEvents: 4 }, records: 10 });
  fx.dropped = 7n;
  pump.flush();
  t.same(log.rescans, [], 'not inside flush: its caller is in the middle of something');
  loop.run();
  t.same(log.rescans, [7n]);
  t.same(pump.counts(), { events: 10, batches: 1, eventsDropped: 7, rescans: 1 });
  pump.kick();
  loop.run();
  t.same(log.rescans, [7n], 'no new loss, no new rescan');
  fx.dropped = 9n;
  pump.kick();
  loop.run();
  t.same(log.rescans, [7n, 2n]);
});

t.test('lost during a storm: the rescan waits for the ring to empty, or for maxDeferred batches', async (t) => {
  const { ring, loop, pump, fx, log } = setup({ budget: { maxEvents: 2 }, maxDeferred: 3, records: 1 });
  let next = 1;
  ring.duringSample = () => ring.push(seq(next++));
  fx.dropped = 1n;
  pump.kick();
  loop.run(2);
  t.same(log.rescans, [], 'three batches into the storm: the rescan is due');
  t.equal(pump.counts().batches, 3);
  loop.run(1);
  t.same(log.rescans, [1n], 'and runs on the next turn, before its batch');
  ring.duringSample = undefined;
  fx.dropped = 5n;
  loop.run();
  t.same(log.rescans, [1n, 4n], 'and what was lost since, once the storm ended');
  t.equal(pump.counts().rescans, 2);
});

t.test('errors go to onError and the pump goes on', async (t) => {
  const { loop, got, pump, fx, log, handle } = setup({ budget: { maxEvents: 3 }, records: 3 });
  handle((d) => {
    got.push(seqOf(d));
    if (seqOf(d) === 2) throw new Error('handler failed');
  });
  pump.kick();
  t.same(log.errors, ['handler failed']);
  t.same(loop.tasks.map((x) => x.name), ['pump'], 'whether the budget ran out is unknown: one more batch, which finds nothing');
  loop.run();
  t.equal(loop.tasks.length, 0);
  fx.drops = () => {
    throw new Error('map read failed');
  };
  pump.kick();
  t.same(log.errors, ['handler failed', 'map read failed']);
  fx.drops = () => 2n;
  fx.rescan = () => {
    throw new Error('sweep failed');
  };
  pump.kick();
  loop.run();
  t.same(log.errors, ['handler failed', 'map read failed', 'sweep failed']);
  t.same(got, [0, 1, 2]);
});

t.test('stop: what was scheduled does nothing, and so do kick and flush', async (t) => {
  const { loop, got, pump, log } = setup({ budget: { maxEvents: 2 }, records: 5 });
  pump.kick();
  pump.stop();
  loop.run();
  pump.kick();
  pump.flush();
  t.same(got, [0, 1]);
  t.equal(log.budgets.length, 1);
});
