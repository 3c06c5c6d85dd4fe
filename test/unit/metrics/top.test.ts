import t from 'tap';
import { type Terminal, runTop } from '../../../src/cli/top.js';
import type { DaemonSnapshot } from '../../../src/metrics/snapshot.js';
import { describeFramework, describeNri, describeScheduler, describeTracker, renderTop } from '../../../src/metrics/top.js';
import { sampleSnapshot } from '../../fixtures/snapshot.js';

t.test('one frame: title, header, container, agent leaf and calls with their numbers', async (t) => {
  const lines = renderTop(sampleSnapshot());
  t.equal(lines[0], 'agentcgroup top  10:00:05  tracker on (75 events lost, 2 rescans)  1 container(s), 2 tool call(s)');
  t.match(lines[2], /^CONTAINER \/ CALL\s+STATE\s+CURRENT\s+HIGH\s+MAX\s+PEAK\s+PSI some\/full\s+THROTTLED\s+OOM-KILLED\s+FROZE\/THAWED\/RAISED\/KILLED$/);
  const row = (start: string) => lines.find((l) => l.startsWith(start))?.split(/\s{2,}/) ?? [];
  t.same(row('agent-1'), ['agent-1', 'running', '80M', '230M', '256M', '90M', '0.0/0.0', '0', '0', '1/0/3/0']);
  t.same(row('  agent'), ['', 'agent python3[12] < tini[10]', '30M', 'max', 'max', '12M', '0.0/0.0', '0', '0'], 'the framework as the daemon took it, without ladder counters');
  t.same(row('  hog-'), ['', 'hog-m1abc-0a1b2c', 'throttled', '40M', '40M', '200M', '41M', '52.5/48.3', '17', '0', '0/0/3/0']);
  t.same(row('  idle-'), ['', 'idle-m1abd-3d4e5f', 'frozen', '512K', '40M', '200M', '-', '0.0/0.0', '0', '0', '1/0/0/0'], 'no peak: -');
  const stateAt = lines[2]!.indexOf('STATE');
  const currentEnd = lines[2]!.indexOf('CURRENT') + 'CURRENT'.length;
  t.same(lines.slice(3).map((l) => l.slice(stateAt).split(' ')[0]), ['running', '', 'throttled', 'frozen'], 'STATE left-aligned under its header');
  t.same(lines.slice(3).map((l) => l.slice(0, currentEnd).split(' ').at(-1)), ['80M', '30M', '40M', '512K'], 'CURRENT right-aligned under its header');
});

t.test('nothing followed, terminal limits, hostile text', async (t) => {
  const none = renderTop({ containers: [], calls: 0, tracker: false, trackerCounts: null, at: '2025-01-01T00:00:00.000Z' }, { note: 'every 1s' });
  t.equal(none[0], 'agentcgroup top  00:00:00  tracker off  0 container(s), 0 tool call(s)  every 1s');
  t.equal(none.at(-1), '(no carved containers)');
  const small = renderTop(sampleSnapshot(), { columns: 30, rows: 4 });
  t.equal(small.length, 4);
  t.ok(small.every((l) => l.length <= 30), 'cut to the width');
  t.match(small[3], /^… 4 more line\(s\)$/);
  const snap = sampleSnapshot();
  snap.containers[0]!.id = 'x\u001b]0;owned\u0007\u009b2J';
  snap.containers[0]!.calls[0]!.id = `${'long'.repeat(20)}\r`;
  const text = renderTop(snap).join('\n');
  t.notOk(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(text), 'no control characters reach the terminal');
  t.match(text, /^x\\u001b\]0;owned\\u0007\\u009b2J /m, 'escaped as everywhere else (src/text.ts)');
  t.match(text, /^ {2}(long){9}l… /m, 'long names are cut');
});

t.test('the tracker in the title: lost events only once there are some', async (t) => {
  const counts = { events: 10, batches: 2, eventsDropped: 0, rescans: 0 };
  t.equal(describeTracker({ tracker: true, trackerCounts: counts }), 'tracker on');
  t.equal(describeTracker({ tracker: true, trackerCounts: null }), 'tracker on', 'a daemon that does not count');
  t.equal(describeTracker({ tracker: false, trackerCounts: null }), 'tracker off');
  t.equal(describeTracker({ tracker: true, trackerCounts: { ...counts, eventsDropped: 1, rescans: 1 } }), 'tracker on (1 event lost, 1 rescan)');
  t.equal(describeTracker({ tracker: true, trackerCounts: { ...counts, eventsDropped: 4000, rescans: 0 } }), 'tracker on (4000 events lost, 0 rescans)', 'lost, the rescan still to come');
});

function fakeTerminal(isTTY: boolean, rows = 50): Terminal & { interrupt(): void; released: boolean } {
  let stop: (() => void) | undefined;
  const term = {
    isTTY,
    released: false,
    size: () => ({ columns: 200, rows }),
    onInterrupt: (s: () => void) => {
      stop = s;
      return () => {
        term.released = true;
      };
    },
    interrupt: () => stop?.(),
  };
  return term;
}

t.test('on a terminal: redrawn in place, cursor back at the end, Ctrl-C stops it', async (t) => {
  const term = fakeTerminal(true);
  let out = '';
  let fetched = 0;
  const fetch = async (): Promise<DaemonSnapshot> => {
    fetched++;
    if (fetched === 3) term.interrupt();
    return sampleSnapshot();
  };
  await runTop(fetch, (s) => (out += s), term, { intervalMs: 1, frames: undefined, plain: false });
  t.equal(fetched, 3);
  t.equal(out.split('\x1b[H').length - 1, 2, 'two frames drawn, each from the cursor home; the third was interrupted');
  t.ok(out.startsWith('\x1b[?25l\x1b[H'), 'cursor hidden, then home');
  t.match(out, /tool call\(s\)  every 0\.001s, Ctrl-C quits\x1b\[K\n/, 'each line cleared to its end');
  t.ok(out.endsWith('\x1b[J\x1b[?25h'), 'rest of the screen cleared, cursor shown again');
  t.ok(term.released, 'signal handlers removed');
});

t.test('a frame leaves the last terminal row free, so nothing scrolls', async (t) => {
  let out = '';
  await runTop(async () => sampleSnapshot(), (s) => (out += s), fakeTerminal(true, 5), { intervalMs: 1, frames: 1, plain: false });
  const frame = out.slice(out.indexOf('\x1b[H') + 3, out.indexOf('\x1b[J'));
  t.equal(frame.split('\n').length - 1, 4, 'four lines on a five-row terminal');
  t.match(frame, /… 4 more line\(s\)\x1b\[K\n$/);
});

t.test('a failure mid-run still gives the cursor back', async (t) => {
  const term = fakeTerminal(true);
  let out = '';
  let n = 0;
  const fetch = async (): Promise<DaemonSnapshot> => {
    if (++n === 2) throw new Error('daemon gone');
    return sampleSnapshot();
  };
  await t.rejects(runTop(fetch, (s) => (out += s), term, { intervalMs: 1, frames: undefined, plain: false }), /daemon gone/);
  t.ok(out.endsWith('\x1b[?25h'));
  t.ok(term.released);
});

t.test('not a terminal, or plain: frames a blank line apart, no escape codes', async (t) => {
  for (const [isTTY, plain] of [[false, false], [true, true]] as const) {
    let out = '';
    await runTop(async () => sampleSnapshot(), (s) => (out += s), fakeTerminal(isTTY), { intervalMs: 1, frames: 2, plain });
    t.notOk(out.includes('\x1b'), `tty ${isTTY}, plain ${plain}: no escapes`);
    const frames = out.split('\n\nagentcgroup top');
    t.equal(frames.length, 2, 'two frames');
    t.equal(out, `${renderTop(sampleSnapshot()).join('\n')}\n\n${renderTop(sampleSnapshot()).join('\n')}\n`);
  }
});

t.test('what was taken for the framework: its launchers and sessions; hostile names are made safe', async (t) => {
  t.equal(describeFramework([]), '?');
  t.equal(
    describeFramework([
      { pid: 1, role: 'launcher', name: 'tini' },
      { pid: 7, role: 'framework', name: 'node' },
      { pid: 9, role: 'framework', name: 'node' },
      { pid: 30, role: 'session', name: 'bash' },
    ]),
    'node[7] node[9] < tini[1] + bash[30]',
  );
  t.equal(describeFramework([{ pid: 7, role: 'framework', name: 'x\x1b[2Jy' }]), 'x\\u001b[2Jy[7]');
});

t.test('describeNri: the state and its detail on one line; nothing without the link', async (t) => {
  t.equal(describeNri({ nri: { state: 'connected', detail: '"containerd" "v2.1.9"' } }), 'NRI connected ("containerd" "v2.1.9")');
  t.equal(describeNri({ nri: { state: 'off', detail: '' } }), 'NRI off');
  t.equal(describeNri({ nri: null }), undefined);
  t.equal(describeNri({}), undefined);
  t.equal(describeNri({ nri: { state: 'waiting', detail: 'x'.repeat(500) } })?.length, 'NRI waiting ()'.length + 161, 'cut');
});

t.test('describeScheduler: running with its classes, unavailable or ejected with why; nothing while off or absent', async (t) => {
  t.equal(describeScheduler({ scheduler: { state: 'running', detail: 'agentcgroup: frameworks first', classes: 4, runSeconds: null } }), 'sched_ext running (agentcgroup: frameworks first; 4 cgroups classed)');
  t.equal(describeScheduler({ scheduler: { state: 'unavailable', detail: 'this kernel has no sched_ext', classes: 0, runSeconds: null } }), 'sched_ext unavailable (this kernel has no sched_ext)');
  t.equal(describeScheduler({ scheduler: { state: 'ejected', detail: 'the kernel stopped it: sysrq S\u001b', classes: 0, runSeconds: null } }), 'sched_ext ejected (the kernel stopped it: sysrq S\\u001b)');
  t.equal(describeScheduler({ scheduler: { state: 'off', detail: 'sched_ext.enable is false', classes: 0, runSeconds: null } }), undefined);
  t.equal(describeScheduler({ scheduler: null }), undefined);
  t.equal(describeScheduler({}), undefined);
  const frame = renderTop({ ...sampleSnapshot(), scheduler: { state: 'running', detail: 'x', classes: 2, runSeconds: null } });
  t.match(frame[0], /rescans\)  sched_ext running  1 container/, 'top says so in its title');
});
