// The ring-buffer record decoder against hand-built records (offsets written out literally, so a
// wrong EVENT_FIELDS cannot hide behind itself), and EVENT_FIELDS against the C compiler's layout.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { AgentcgroupError } from '../../../src/errors.js';
import { decodeEvent, EVENT_FIELDS, EVENT_FLAGS, EVENT_SIZE, EVENT_TYPES, RING_BYTES, RING_CAPACITY } from '../../../src/bpf/tracker.js';

interface Raw {
  ts?: bigint;
  cgroup?: bigint;
  watch?: bigint;
  type?: number;
  pid?: number;
  tgid?: number;
  ppid?: number;
  exit?: number;
  comm?: string;
  filename?: string;
  flags?: number;
}

/** A record as the BPF program writes it; garbage fills every byte nothing sets, as in a reused ring. */
function record(r: Raw): Buffer {
  const b = Buffer.alloc(192, 0xa5);
  b.writeBigUInt64LE(r.ts ?? 1n, 0);
  b.writeBigUInt64LE(r.cgroup ?? 2n, 8);
  b.writeBigUInt64LE(r.watch ?? 3n, 16);
  b.writeUInt32LE(r.type ?? 1, 24);
  b.writeUInt32LE(r.pid ?? 10, 28);
  b.writeUInt32LE(r.tgid ?? 10, 32);
  b.writeUInt32LE(r.ppid ?? 9, 36);
  b.writeInt32LE(r.exit ?? 0, 40);
  cstr(b, 44, 16, r.comm ?? 'sh');
  cstr(b, 60, 128, r.filename ?? '');
  b.writeUInt32LE(r.flags ?? 0, 188);
  return b;
}

function cstr(b: Buffer, offset: number, size: number, s: string): void {
  const n = b.write(s, offset, size, 'utf8');
  if (n < size) b[offset + n] = 0;
}

t.test('an exec record decodes field by field', async (t) => {
  t.same(
    decodeEvent(record({ ts: 123456789012n, cgroup: 4242n, watch: 4100n, type: 2, pid: 301, tgid: 301, ppid: 300, comm: 'true', filename: '/bin/true' })),
    { type: 'exec', tsNs: 123456789012n, cgroupId: 4242n, watchId: 4100n, pid: 301, tgid: 301, ppid: 300, exitCode: 0, comm: 'true', filename: '/bin/true', held: false },
  );
});

t.test('FLAG_HELD: the tracker stopped the process; other bits are ignored', async (t) => {
  t.equal(decodeEvent(record({ type: 2, flags: 1 })).held, true);
  t.equal(decodeEvent(record({ type: 2, flags: 0 })).held, false);
  t.equal(decodeEvent(record({ type: 2, flags: 2 })).held, false);
});

t.test('the three event types, and an unknown one is refused', async (t) => {
  t.equal(decodeEvent(record({ type: 1 })).type, 'fork');
  t.equal(decodeEvent(record({ type: 2 })).type, 'exec');
  t.equal(decodeEvent(record({ type: 3 })).type, 'exit');
  t.throws(() => decodeEvent(record({ type: 7 })), new AgentcgroupError('bpf-event', 'tracker event of unknown type 7'));
});

t.test('u64 ids and timestamps beyond 2^53 keep every bit', async (t) => {
  const e = decodeEvent(record({ ts: 2n ** 63n + 1n, cgroup: 2n ** 53n + 1n, watch: 2n ** 64n - 1n }));
  t.equal(e.tsNs, 9223372036854775809n);
  t.equal(e.cgroupId, 9007199254740993n);
  t.equal(e.watchId, 18446744073709551615n);
});

t.test('u32 ids use the full unsigned range', async (t) => {
  const e = decodeEvent(record({ pid: 0xfffffffe, tgid: 4194304, ppid: 1 }));
  t.equal(e.pid, 4294967294);
  t.equal(e.tgid, 4194304);
  t.equal(e.ppid, 1);
});

t.test('exit codes: status << 8, a signal, and the signed range', async (t) => {
  t.equal(decodeEvent(record({ type: 3, exit: 3 << 8 })).exitCode, 768);
  t.equal(decodeEvent(record({ type: 3, exit: 9 })).exitCode, 9, 'SIGKILL');
  t.equal(decodeEvent(record({ type: 3, exit: -1 })).exitCode, -1);
});

t.test('strings stop at their NUL and never run past their field', async (t) => {
  t.equal(decodeEvent(record({ comm: 'python3' })).comm, 'python3', 'the bytes after the NUL are ignored');
  t.equal(decodeEvent(record({ comm: '' })).comm, '');
  t.equal(decodeEvent(record({ comm: 'a-very-long-comm', filename: '/x' })).comm, 'a-very-long-comm', '16 bytes with no NUL stop at the field end');
  const long = `/${'d'.repeat(126)}`;
  t.equal(decodeEvent(record({ filename: long })).filename, long, '127 bytes and the NUL');
  t.equal(decodeEvent(record({ filename: `${long}xyz` })).filename, `${long}x`, 'a full field with no NUL');
  t.equal(decodeEvent(record({ filename: '/usr/bin/é' })).filename, '/usr/bin/é', 'UTF-8');
});

t.test('the event owns its data: changing the buffer afterwards changes nothing', async (t) => {
  const buf = record({ type: 3, cgroup: 77n, comm: 'make', filename: '/usr/bin/make' });
  const before = decodeEvent(buf);
  const copy = structuredClone(before);
  buf.fill(0);
  t.same(before, copy);
});

t.test('a short record is refused', async (t) => {
  t.throws(() => decodeEvent(Buffer.alloc(100)), { code: 'bpf-event', message: 'tracker event of 100 bytes, expected 192' });
});

t.test('EVENT_SIZE, EVENT_FIELDS and EVENT_TYPES match struct event as the C compiler laid it out', async (t) => {
  const file = 'build/bpf/layout.json';
  if (!existsSync(file)) {
    t.fail(`${file} missing: run bash bpf/build.sh`);
    return;
  }
  const layout = JSON.parse(readFileSync(file, 'utf8')) as { size: number; fields: unknown; types: unknown; flags: unknown; ringBytes: number };
  t.equal(EVENT_SIZE, layout.size, 'sizeof(struct event)');
  t.same(EVENT_FIELDS, layout.fields, 'offsetof and sizeof of every field');
  t.same(EVENT_TYPES, layout.types, 'EVENT_FORK, EVENT_EXEC, EVENT_EXIT');
  t.same(EVENT_FLAGS, layout.flags, 'FLAG_HELD');
  t.equal(RING_BYTES, layout.ringBytes, 'RING_BYTES, the ring map\'s max_entries');
});

t.test('the ring holds at most 5242 events: 1 MiB less a byte of 200-byte records (192 and the 8-byte header)', async (t) => {
  t.equal(RING_CAPACITY, 5242);
});
