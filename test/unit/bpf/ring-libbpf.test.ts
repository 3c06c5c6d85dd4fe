// libbpf's real ring buffer reader (libbpf.so.1, Debian's 1.1.2 here) under RingBuffer.consume and its
// budgets, with a ring this test fills itself: test/fixtures/ringfill.bpf.c writes numbered samples
// each time it runs through BPF_PROG_TEST_RUN. What batch.ts and the model in ringmodel.ts take from
// libbpf's source is checked here against the library itself: a negative return from the callback
// stops the pass with its sample consumed, a pass goes on while the producer keeps up, discarded
// records are skipped. Needs root (CAP_BPF): elsewhere the test says it was skipped, and why.
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import koffi from 'koffi';
import { type BpfObject, RingBuffer, closeObject, findMap, loadObject, openObject } from '../../../src/bpf/libbpf.js';

const OBJECT = 'build/bpf/ringfill.bpf.o';
/** max_entries of its ring, and the most samples one run writes (MAX_FILL). */
const RING_BYTES = 4096 * 16;
const MAX_FILL = 4096;

/** The libbpf calls only this test needs, on the same libbpf.so.1; bound once (koffi type names are global). */
const testLib = (() => {
  let bound: ReturnType<typeof bind> | undefined;
  function bind() {
    const so = koffi.load('libbpf.so.1');
    // struct bpf_test_run_opts in bpf/bpf.h, libbpf 1.1.
    const opts = koffi.struct('ringfill_test_run_opts', {
      sz: 'size_t',
      data_in: 'void *',
      data_out: 'void *',
      data_size_in: 'uint32_t',
      data_size_out: 'uint32_t',
      ctx_in: 'void *',
      ctx_out: 'void *',
      ctx_size_in: 'uint32_t',
      ctx_size_out: 'uint32_t',
      retval: 'uint32_t',
      repeat: 'int',
      duration: 'uint32_t',
      flags: 'uint32_t',
      cpu: 'uint32_t',
      batch_size: 'uint32_t',
    });
    return {
      optsSize: koffi.sizeof(opts),
      findProgram: so.func('void *bpf_object__find_program_by_name(void *obj, const char *name)'),
      programFd: so.func('int bpf_program__fd(void *prog)'),
      testRun: so.func('int bpf_prog_test_run_opts(int fd, _Inout_ ringfill_test_run_opts *opts)'),
    };
  }
  return () => (bound ??= bind());
})();

/** Runs the object's `fill` program once; returns how many samples did not fit. */
function testRunner(obj: BpfObject): (args: { first: number; count: number; discardEvery?: number }) => number {
  const lib = testLib();
  const fd = lib.programFd(lib.findProgram(obj, 'fill')) as number;
  if (fd < 0) throw new Error(`no fd for program fill: ${fd}`);
  return ({ first, count, discardEvery = 0 }) => {
    const ctx = Buffer.alloc(12);
    ctx.writeUInt32LE(first, 0);
    ctx.writeUInt32LE(count, 4);
    ctx.writeUInt32LE(discardEvery, 8);
    const opts = { sz: lib.optsSize, data_in: null, data_out: null, data_size_in: 0, data_size_out: 0, ctx_in: ctx, ctx_out: null, ctx_size_in: ctx.length, ctx_size_out: 0, retval: 0, repeat: 0, duration: 0, flags: 0, cpu: 0, batch_size: 0 };
    const err = lib.testRun(fd, opts) as number;
    if (err < 0) throw new Error(`bpf_prog_test_run_opts: ${err}`);
    return opts.retval;
  };
}

/** Why this machine cannot load the test program (not root: no CAP_BPF), or false. Any other failure fails. */
function cannotLoad(): string | false {
  if (!existsSync(OBJECT)) throw new Error(`${OBJECT} missing: run bash bpf/build.sh`);
  const obj = openObject(OBJECT);
  try {
    loadObject(obj, OBJECT);
    return false;
  } catch (err) {
    if (/needs root/.test((err as Error).message)) return `cannot load BPF programs here: ${(err as Error).message}`;
    throw err;
  } finally {
    closeObject(obj);
  }
}

const skip = cannotLoad();

/** A fresh ring and its filler for one test, freed at its end. */
function setup(t: Test): { ring: RingBuffer; fill: ReturnType<typeof testRunner> } {
  const obj = openObject(OBJECT);
  loadObject(obj, OBJECT);
  const ring = RingBuffer.open(findMap(obj, 'samples'), 'samples');
  t.teardown(() => {
    ring.free();
    closeObject(obj);
  });
  return { ring, fill: testRunner(obj) };
}

const numbers = (into: number[]) => (d: Buffer) => void into.push(d.readUInt32LE(0));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

t.test('a budget stops libbpf mid-ring, and the next pass starts right after the sample that stopped it', { skip }, async (t) => {
  const s = setup(t);
  t.equal(s.fill({ first: 0, count: 100 }), 0);
  const got: number[] = [];
  const passes = [];
  for (let more = true; more; ) {
    const d = s.ring.consume(numbers(got), { maxEvents: 7 });
    passes.push(d.events);
    more = d.more;
  }
  t.same(passes, [...Array(14).fill(7), 2], '14 passes of 7, then the last 2 and the ring found empty');
  t.same(got, range(0, 100), 'every sample once, in order');
});

t.test('libbpf reads on while the producer keeps up; a budget is what ends a pass', { skip }, async (t) => {
  const s = setup(t);
  let next = 0;
  const produce = (until: number) => (d: Buffer) => {
    got.push(d.readUInt32LE(0));
    if (next < until) s.fill({ first: next++, count: 1 });
  };
  const got: number[] = [];
  s.fill({ first: next++, count: 1 });
  t.same(s.ring.consume(produce(3000)), { events: 3000, more: false }, 'one sample waited, one plain pass read 3000: ring_buffer__consume looks again for as long as it finds more');
  t.same(s.ring.consume(produce(1e9), { maxEvents: 50 }), { events: 0, more: false }, 'nothing waits');
  s.fill({ first: next++, count: 1 });
  t.same(s.ring.consume(produce(1e9), { maxEvents: 50 }), { events: 50, more: true }, 'a storm: the pass returns after its budget');
  t.same(s.ring.consume(produce(0), { maxEvents: 50 }), { events: 1, more: false }, 'the one written during the last sample was not lost');
  t.same(got, range(0, next));
});

t.test('discarded records are skipped by libbpf and take no share of the budget', { skip }, async (t) => {
  const s = setup(t);
  s.fill({ first: 0, count: 10, discardEvery: 3 });
  const got: number[] = [];
  t.same(s.ring.consume(numbers(got), { maxEvents: 4 }), { events: 4, more: true });
  t.same(s.ring.consume(numbers(got), { maxEvents: 4 }), { events: 3, more: false });
  t.same(got, [0, 1, 3, 4, 6, 7, 9]);
});

t.test('RingBuffer.capacity is what the kernel fits: 64 KiB of 16-byte records holds 4095, not 4096', { skip }, async (t) => {
  const s = setup(t);
  const capacity = RingBuffer.capacity(RING_BYTES, 4);
  t.equal(capacity, MAX_FILL - 1, 'the producer stays less than the ring size ahead of the consumer');
  t.equal(s.fill({ first: 0, count: MAX_FILL }), 1, 'the last one did not fit');
  t.equal(s.fill({ first: MAX_FILL, count: 3 }), 3, 'nor do later ones: lost, as the tracker loses events to a full ring');
  const got: number[] = [];
  t.same(s.ring.consume(numbers(got), { maxEvents: capacity }), { events: capacity, more: true }, 'a flush bounded to the capacity takes all that waited');
  t.same(got, range(0, capacity));
  t.same(s.ring.consume(numbers(got), { maxEvents: capacity }), { events: 0, more: false });
});
