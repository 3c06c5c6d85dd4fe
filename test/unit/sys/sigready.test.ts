// When a child that forwards signals (a runtime's foreground run) can take one over: /proc's masks and
// signalfds read, the decision, the bounded wait, and the queue that keeps signals in order.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type SignalMasks,
  type SignalState,
  type WaitClock,
  parseSignalMasks,
  parseSignalfdMask,
  procSignalState,
  signalRelay,
  takesSignal,
  waitUntilTaken,
} from '../../../src/sys/sigready.js';
import { signalForwarder } from '../../../src/sys/forward.js';

const SIGINT = 2;
const SIGTERM = 15;
const TERM = 1n << 14n;
const CHLD = 1n << 16n;
const ALL = (1n << 64n) - 1n;

// A real /proc/<pid>/status of Linux 6.18 (python3 with SIGTERM and SIGCHLD blocked), cut.
const STATUS = `Name:\tpython3
Umask:\t0022
State:\tS (sleeping)
Tgid:\t4242
Pid:\t4242
PPid:\t4200
Threads:\t1
SigQ:\t0/96363
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000000
SigBlk:\t0000000000014000
SigIgn:\t0000000001001000
SigCgt:\t0000000000000002
CapInh:\t0000000000000000
`;
// Its signalfd's /proc/<pid>/fdinfo/3, made with that mask.
const SIGNALFD_INFO = 'pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t18\nsigmask:\t0000000000014000\n';

const masks = (m: Partial<SignalMasks>): SignalMasks => ({ blocked: 0n, caught: 0n, ignored: 0n, ...m });
const state = (m: Partial<SignalMasks>, fds: readonly bigint[] | 'unknown' = []): SignalState => ({ masks: masks(m), signalfds: () => (fds === 'unknown' ? undefined : fds) });

t.test('the masks of /proc/<pid>/status and of a signalfd', async (t) => {
  t.same(parseSignalMasks(STATUS), { blocked: 0x14000n, caught: 0x2n, ignored: 0x1001000n });
  t.equal(parseSignalMasks(STATUS.replace(/^SigCgt.*\n/m, '')), undefined, 'a mask missing');
  t.equal(parseSignalMasks(STATUS.replace('SigBlk:\t0000000000014000', 'SigBlk:\tzz')), undefined, 'not hex');
  t.equal(parseSignalMasks(''), undefined);
  t.equal(parseSignalMasks(STATUS.replace('0000000000014000', 'ffffffffffffffff'))?.blocked, ALL, 'all 64 bits');
  t.equal(parseSignalfdMask(SIGNALFD_INFO), 0x14000n);
  t.equal(parseSignalfdMask('pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\neventfd-count:\t0\n'), undefined, 'another anon inode');
});

t.test('taken: caught, or blocked and read from a signalfd; blocked alone is crun before its hook', async (t) => {
  t.ok(takesSignal(state({ caught: TERM }), SIGTERM), 'caught (runc: Go catches every signal)');
  t.ok(takesSignal(state({ blocked: ALL }, [ALL & ~(1n << 8n) & ~(1n << 18n)]), SIGTERM), "blocked and in a signalfd (crun's wait_for_process)");
  t.notOk(takesSignal(state({ blocked: ALL }, []), SIGTERM), 'blocked without a signalfd: may be unblocked before it is read (crun after a hook with a timeout)');
  t.notOk(takesSignal(state({ blocked: ALL }, [CHLD]), SIGTERM), "a signalfd that does not read it");
  t.notOk(takesSignal(state({}), SIGTERM), 'default action (crun between a hook and its wait loop)');
  t.notOk(takesSignal(state({ ignored: TERM }), SIGTERM), 'ignored: it would be lost');
  t.notOk(takesSignal(state({ caught: TERM }), SIGINT), 'another signal');
  t.ok(takesSignal(state({ blocked: TERM }, 'unknown'), SIGTERM), 'blocked, fds not ours to look at: the best that can be known');
  let looked = 0;
  takesSignal({ masks: masks({ caught: TERM }), signalfds: () => (looked++, []) }, SIGTERM);
  takesSignal({ masks: masks({}), signalfds: () => (looked++, []) }, SIGTERM);
  t.equal(looked, 0, 'fds are looked at only when the signal is blocked and not caught');
});

t.test('procSignalState reads a /proc-shaped tree: status, the signalfd links and their fdinfo', async (t) => {
  const root = t.testdir({});
  const proc = (pid: number, status: string, fds: Record<string, string>, infos: Record<string, string>) => {
    mkdirSync(join(root, String(pid), 'fd'), { recursive: true });
    mkdirSync(join(root, String(pid), 'fdinfo'));
    writeFileSync(join(root, String(pid), 'status'), status);
    for (const [fd, target] of Object.entries(fds)) symlinkSync(target, join(root, String(pid), 'fd', fd));
    for (const [fd, text] of Object.entries(infos)) writeFileSync(join(root, String(pid), 'fdinfo', fd), text);
  };
  proc(10, STATUS, { '0': '/dev/null', '3': 'anon_inode:[signalfd]', '4': 'anon_inode:[eventfd]', '5': 'anon_inode:[signalfd]' }, { '3': SIGNALFD_INFO, '5': 'sigmask:\t0000000000000001\n' });
  const read = procSignalState(root);
  const s = read(10);
  t.same(s?.masks, { blocked: 0x14000n, caught: 0x2n, ignored: 0x1001000n });
  t.same(s?.signalfds(), [0x14000n, 0x1n], 'each signalfd, nothing else');
  t.ok(s !== undefined && takesSignal(s, SIGTERM));
  t.equal(read(11), undefined, 'gone');
  mkdirSync(join(root, '12'));
  writeFileSync(join(root, '12', 'status'), STATUS);
  t.equal(read(12)?.signalfds(), undefined, 'fds that cannot be listed: unknown');
  writeFileSync(join(root, '13'), '');
  t.equal(read(13), undefined, 'no status');
});

t.test('procSignalState on this kernel: a shell that traps TERM takes it; sleep does not', async (t) => {
  const read = procSignalState();
  const trapping = spawn('/bin/sh', ['-c', 'trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const sleeping = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => {
    trapping.kill('SIGKILL');
    sleeping.kill('SIGKILL');
  });
  await new Promise((r) => trapping.stdout.once('data', r));
  const trapped = read(trapping.pid as number);
  t.ok(trapped && takesSignal(trapped, SIGTERM), 'the trap shows in SigCgt');
  const plain = read(sleeping.pid as number);
  t.ok(plain !== undefined && !takesSignal(plain, SIGTERM), 'default action');
  t.same(plain?.signalfds(), [], 'our own child: its fds can be looked at, and it has no signalfd');
  sleeping.kill('SIGKILL');
  await new Promise((r) => sleeping.once('exit', r));
  t.equal(read(sleeping.pid as number), undefined, 'reaped: gone');
});

/** A clock that moves only when slept on. */
function fakeClock(): WaitClock & { slept: number[] } {
  let now = 1000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

t.test('waitUntilTaken: looks every pollMs until taken, gone, or the deadline', async (t) => {
  const states = (list: (SignalState | undefined)[]) => {
    let i = 0;
    return () => list[Math.min(i++, list.length - 1)];
  };
  let clock = fakeClock();
  t.equal(await waitUntilTaken(states([state({}), state({ blocked: ALL }), state({ blocked: ALL }, [ALL])]), 1, SIGTERM, 2000, 5, clock), 'taken');
  t.same(clock.slept, [5, 5], 'two looks that found it not taken yet');
  clock = fakeClock();
  t.equal(await waitUntilTaken(states([state({ caught: TERM })]), 1, SIGTERM, 2000, 5, clock), 'taken');
  t.same(clock.slept, [], 'taken already: no wait');
  clock = fakeClock();
  t.equal(await waitUntilTaken(states([state({}), undefined]), 1, SIGTERM, 2000, 5, clock), 'gone');
  clock = fakeClock();
  t.equal(await waitUntilTaken(states([state({})]), 1, SIGTERM, 1012, 5, clock), 'timeout');
  t.same(clock.slept, [5, 5, 2], 'the last sleep ends at the deadline');
  clock = fakeClock();
  t.equal(await waitUntilTaken(states([state({})]), 1, SIGTERM, 900, 5, clock), 'timeout', 'a deadline passed already: one look');
  let asked = -1;
  await waitUntilTaken((pid) => ((asked = pid), undefined), 77, SIGTERM, 2000, 5, fakeClock());
  t.equal(asked, 77);
});

/** A `ready` whose waits the test settles one by one. */
function gate() {
  const waits: { sig: NodeJS.Signals; deadline: number; settle: (ok?: boolean) => void }[] = [];
  const ready = (sig: NodeJS.Signals, deadline: number) =>
    new Promise<void>((resolve, reject) => waits.push({ sig, deadline, settle: (ok = true) => (ok ? resolve() : reject(new Error('looking failed'))) }));
  return { waits, ready };
}
const tick = () => new Promise((r) => setImmediate(r));

t.test('signalRelay: in the order they came, none lost, each bounded from when it came', async (t) => {
  const delivered: string[] = [];
  const g = gate();
  let now = 100;
  const relay = signalRelay((s) => delivered.push(s), g.ready, 5000, () => now);
  relay.push('SIGTERM');
  now = 150;
  relay.push('SIGINT');
  relay.push('SIGHUP');
  await tick();
  t.same(delivered, [], 'the first waits, the others wait behind it');
  t.same(g.waits.map((w) => [w.sig, w.deadline]), [['SIGTERM', 5100]], 'one wait at a time');
  g.waits[0]?.settle();
  await tick();
  t.same(delivered, ['SIGTERM']);
  t.same(g.waits.map((w) => [w.sig, w.deadline]).slice(1), [['SIGINT', 5150]], 'the next one, its deadline from its own arrival');
  g.waits[1]?.settle(false);
  await tick();
  t.same(delivered, ['SIGTERM', 'SIGINT'], 'a wait that failed still delivers');
  relay.push('SIGTERM');
  g.waits[2]?.settle();
  await tick();
  g.waits[3]?.settle();
  await tick();
  t.same(delivered, ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGTERM'], 'a repeat is delivered again');
  relay.push('SIGUSR1');
  await tick();
  t.equal(g.waits.length, 5, 'pumping again after the queue ran dry');
});

t.test('signalRelay: stop drops what waits, and delivers nothing more', async (t) => {
  const delivered: string[] = [];
  const g = gate();
  const relay = signalRelay((s) => delivered.push(s), g.ready, 5000);
  relay.push('SIGTERM');
  relay.push('SIGQUIT');
  await tick();
  relay.stop();
  g.waits[0]?.settle();
  await tick();
  relay.push('SIGINT');
  await tick();
  t.same(delivered, []);
  t.equal(g.waits.length, 1);
});

t.test('signalForwarder: at once without a wait; with one, each signal once the child takes it', async (t) => {
  const killed: string[] = [];
  const child = { pid: 4242, kill: (s?: NodeJS.Signals | number) => (killed.push(String(s)), true) };
  const plain = signalForwarder(child, undefined);
  plain.forward('SIGTERM');
  t.same(killed, ['SIGTERM'], 'synchronously, as before');

  killed.length = 0;
  let current: SignalState | undefined = state({});
  const looked: number[] = [];
  const waited = signalForwarder(child, { read: (pid) => (looked.push(pid), current), pollMs: 1, boundMs: 60_000 });
  waited.forward('SIGTERM');
  waited.forward('SIGINT');
  await new Promise((r) => setTimeout(r, 20));
  t.same(killed, [], 'not while the child would die of it');
  t.ok(looked.length > 1 && looked.every((p) => p === 4242), "the child's own pid is looked at, again and again");
  current = state({ blocked: ALL }, [ALL]);
  await new Promise((r) => setTimeout(r, 20));
  t.same(killed, ['SIGTERM', 'SIGINT'], 'once it blocks them into a signalfd, in order');

  killed.length = 0;
  current = state({});
  const bounded = signalForwarder(child, { read: () => current, pollMs: 1, boundMs: 30 });
  bounded.forward('SIGTERM');
  await new Promise((r) => setTimeout(r, 80));
  t.same(killed, ['SIGTERM'], 'delivered anyway once the bound passed');

  killed.length = 0;
  const stopped = signalForwarder(child, { read: () => current, pollMs: 1, boundMs: 60_000 });
  stopped.forward('SIGTERM');
  stopped.stop();
  await new Promise((r) => setTimeout(r, 20));
  t.same(killed, [], 'the child ended while the signal waited: nothing to deliver it to');

  const nopid = signalForwarder({ pid: undefined, kill: child.kill }, { read: () => current });
  nopid.forward('SIGHUP');
  t.same(killed, ['SIGHUP'], 'a child that never started (no pid): as before');
});
