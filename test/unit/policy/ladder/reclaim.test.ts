import t from 'tap';
import { type LadderState, type Snapshot, EMPTY_STATE, decide } from '../../../../src/policy/ladder.js';
import { killOver } from '../../../../src/policy/ladder/kill.js';
import { reclaimUnder } from '../../../../src/policy/ladder/reclaim.js';
import { M, brief, call, cfg, host, round, session, snap } from './fixture.js';

const ON = { reclaim: true };
const NONE = new Set<string>();
const SWAP = (s: Snapshot, swapFreeBytes = 1024 * M): Snapshot => ({ ...s, swapFreeBytes });

t.test('at freeze_at a frozen call gives back one step, lowest priority and largest first', async (t) => {
  const calls = [
    call('n', 'normal', { frozen: true, current: 400 * M }),
    call('l1', 'low', { frozen: true, current: 100 * M }),
    call('l2', 'low', { frozen: true, current: 300 * M }),
    call('run', 'high'),
  ];
  const r = round(SWAP(snap(0, calls, [host(0.92)])), { frozenSinceMs: { n: 0, l1: 0, l2: 0 } }, ON);
  t.same(reclaimUnder(r, host(0.92), NONE), { kind: 'reclaim', call: 'l2', bytes: 64 * M, reason: 'host memory at 92% of 1000M with calls frozen' });
});

t.test('never a step larger than what the call holds, in whole pages', async (t) => {
  const small = call('l', 'low', { frozen: true, current: 10 * M + 123 });
  const r = round(snap(0, [small, call('run', 'high')], [host(0.92)]), { frozenSinceMs: { l: 0 } }, ON);
  t.match(reclaimUnder(r, host(0.92), NONE), { kind: 'reclaim', bytes: 10 * M });
});

t.test('nothing to do: below freeze_at, off, not frozen by us, dry, or one in flight', async (t) => {
  const l = call('l', 'low', { frozen: true, current: 300 * M });
  const calls = [l, call('run', 'high')];
  const frozen = { frozenSinceMs: { l: 0 } };
  t.equal(reclaimUnder(round(snap(0, calls, [host(0.85)]), frozen, ON), host(0.85), NONE), undefined, 'below freeze_at');
  t.ok(reclaimUnder(round(snap(0, calls, [host(0.85)]), frozen, ON), host(0.85), new Set(['host'])), 'but a budget short for a raise counts as at freeze_at');
  t.equal(reclaimUnder(round(snap(0, calls, [host(0.95)]), frozen), host(0.95), NONE), undefined, 'ladder.reclaim off');
  t.equal(reclaimUnder(round(snap(0, calls, [host(0.95)]), {}, ON), host(0.95), NONE), undefined, 'frozen by someone else (a paused container)');
  t.equal(reclaimUnder(round(snap(0, calls, [host(0.95)]), { ...frozen, dry: { l: true } }, ON), host(0.95), NONE), undefined, 'dry');
  const two = [l, call('l2', 'low', { frozen: true }), call('run', 'high')];
  t.equal(reclaimUnder(round(snap(10, two, [host(0.95)]), { frozenSinceMs: { l: 0, l2: 0 }, reclaimingSinceMs: { l: 5 } }, ON), host(0.95), NONE), undefined, 'one reclaim at a time per budget');
  t.equal(reclaimUnder(round(snap(0, [call('l', 'low', { frozen: true, current: M / 2 }), call('run', 'high')], [host(0.95)]), frozen, ON), host(0.95), NONE), undefined, 'less than 1M held');
});

t.test('a reclaim that gave a quarter of its step or less leaves the call dry until it thaws', async (t) => {
  const calls = [call('l', 'low', { frozen: true, current: 300 * M }), call('run', 'high')];
  const prev: LadderState = { ...EMPTY_STATE, frozenSinceMs: { l: 0 }, reclaimingSinceMs: { l: 100 } };
  const gave = (gotBytes: number) => round({ ...snap(200, calls, [host(0.95)]), reclaimed: [{ call: 'l', askedBytes: 64 * M, gotBytes }] }, prev, ON);
  t.same(gave(16 * M).next.dry, { l: true }, '16M of 64M: dry');
  t.same(gave(17 * M).next.dry, {}, '17M of 64M: more may come');
  t.same(gave(17 * M).next.reclaimingSinceMs, {}, 'reported: no longer in flight');
  t.same(round(snap(200, calls, [host(0.95)]), prev, ON).next.reclaimingSinceMs, { l: 100 }, 'unreported: still in flight');
  const thawed = [call('l', 'low', { current: 300 * M }), call('run', 'high')];
  t.same(round(snap(300, thawed, [host(0.95)]), { ...prev, dry: { l: true } }, ON).next.dry, {}, 'running again: not dry');
  t.same(round(snap(100 + cfg.deadlineMs, calls, [host(0.95)]), prev, ON).next, { ...round(snap(100 + cfg.deadlineMs, calls, [host(0.95)]), prev, ON).next, reclaimingSinceMs: {}, dry: { l: true } }, 'never reported within the deadline: over, and dry');
});

t.test('kill waits while reclaim may make room, with swap free', async (t) => {
  const frozen = call('l', 'low', { frozen: true, current: 300 * M });
  const calls = [frozen, call('run', 'high', { current: 400 * M })];
  const s = snap(0, calls, [host(0.99)]);
  const state = { frozenSinceMs: { l: 0 } };
  t.equal(killOver(round(SWAP(s), state, ON), host(0.99)), undefined, 'a frozen call can still give memory to swap');
  t.equal(killOver(round(s, state, ON), host(0.99))?.call, 'l', 'without swap page cache is all reclaim gets: kill as before');
  t.equal(killOver(round(SWAP(s), state), host(0.99))?.call, 'l', 'reclaim off: kill as before');
  t.equal(killOver(round(SWAP(s), { ...state, dry: { l: true } }, ON), host(0.99))?.call, 'l', 'the frozen call is dry and one call runs: kill');
  t.match(killOver(round(SWAP(s), { ...state, dry: { l: true } }, ON), host(0.99)), { reason: /freezing and reclaim did not relieve it$/ });
  t.equal(killOver(round(SWAP(s), { ...state, dry: { l: true }, reclaimingSinceMs: { l: 0 } }, ON), host(0.99)), undefined, 'a reclaim in flight');
  const noSwap = call('l', 'low', { frozen: true, current: 300 * M, swapMax: 0 });
  t.equal(killOver(round(SWAP(snap(0, [noSwap, calls[1]!], [host(0.99)])), state, ON), host(0.99))?.call, 'l', 'its swap.max is 0: nothing to swap');
  const running = [call('a', 'low', { current: 300 * M }), call('b', 'high', { current: 300 * M })];
  t.equal(killOver(round(SWAP(snap(0, running, [host(0.99)])), {}, ON), host(0.99))?.call, 'a', 'nothing frozen yet: nothing reclaim can be counted on, kill as before');
});

t.test('kill waits only while the frozen calls hold enough to bring the budget below freeze_at', async (t) => {
  const state = { frozenSinceMs: { l: 0 } };
  const at = (current: number, swapFree = 1024 * M) =>
    killOver(round(SWAP(snap(0, [call('l', 'low', { frozen: true, current: current * M }), call('run', 'high', { current: 400 * M })], [host(0.99)]), swapFree), state, ON), host(0.99));
  // host at 990M of 1000M, freeze_at 90%: 90M over.
  t.equal(at(90), undefined, '90M frozen: enough');
  t.equal(at(89)?.call, 'l', '89M frozen: not enough, kill');
  t.equal(at(300, 50 * M)?.call, 'l', 'enough frozen but only 50M of swap free: kill');
});

t.test('through decide: freeze, reclaim while short, kill only when reclaim gives nothing', async (t) => {
  const c = { ...cfg, reclaim: true };
  const sessions = [session('low', 0), session('high', 2)];
  const l = (over = {}) => call('l', 'low', { current: 300 * M, ...over });
  const h = call('h', 'high', { current: 500 * M });
  let d = decide(SWAP(snap(0, [l(), h], [host(0.92)], sessions)), EMPTY_STATE, c);
  t.same(brief(d.actions), ['freeze l'], 'at freeze_at: freeze');
  d = decide(SWAP(snap(500, [l({ frozen: true }), h], [host(0.99)], sessions)), d.state, c);
  t.same(brief(d.actions), ['reclaim l'], 'at kill_at with a frozen call holding more than the overshoot: reclaim, not kill');
  t.ok(d.watching, 'a reclaim in flight is watched');
  d = decide(SWAP(snap(1000, [l({ frozen: true, current: 236 * M }), h], [host(0.93)], sessions)), d.state, c);
  t.same(brief(d.actions), [], 'nothing reported yet: no second reclaim, no thaw');
  d = decide({ ...SWAP(snap(1500, [l({ frozen: true, current: 236 * M }), h], [host(0.93)], sessions)), reclaimed: [{ call: 'l', askedBytes: 64 * M, gotBytes: 64 * M }] }, d.state, c);
  t.same(brief(d.actions), ['reclaim l'], 'it gave its step: another');
  d = decide({ ...SWAP(snap(2000, [l({ frozen: true, current: 230 * M }), h], [host(0.99)], sessions)), reclaimed: [{ call: 'l', askedBytes: 64 * M, gotBytes: 6 * M }] }, d.state, c);
  t.same(brief(d.actions), ['kill l'], 'it gave little and the budget is at kill_at: the last resort');
  d = decide(SWAP(snap(3000, [h], [host(0.5)], sessions)), d.state, c);
  t.same(d.state.dry, {}, 'its state goes with it');
});

t.test('no thaw while the call is giving memory back, nor in a decision that reclaims', async (t) => {
  const calls = [call('l', 'low', { frozen: true }), call('h', 'high')];
  const d = decide(snap(1000, calls, [host(0.5)]), { ...EMPTY_STATE, frozenSinceMs: { l: 0 }, reclaimingSinceMs: { l: 900 } }, { ...cfg, reclaim: true });
  t.same(brief(d.actions), [], 'in flight: stays frozen');
  const after = decide({ ...snap(1500, calls, [host(0.5)]), reclaimed: [{ call: 'l', askedBytes: 64 * M, gotBytes: 64 * M }] }, d.state, { ...cfg, reclaim: true });
  t.same(brief(after.actions), ['thaw l'], 'reported: thawed');
});
