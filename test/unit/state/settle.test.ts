// A call gets exactly one record however many parties settle it, its marker goes either way, and a
// failed write is reported as one line, not thrown.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cutOffRecord } from '../../../src/exec/record.js';
import { type RunningCall, StateStore } from '../../../src/state/records.js';
import { settleCall } from '../../../src/state/settle.js';

const call: RunningCall = {
  callId: 'pytest-1',
  name: 'pytest',
  argv: ['pytest'],
  cgroup: '/c/tools/pytest-1',
  start: '2026-01-01T00:00:00.000Z',
  limits: { high: 1, max: 2 },
  owner: 'daemon',
};
const now = new Date('2026-01-01T00:00:01.000Z');
const lines = (store: StateStore, key: string) => (existsSync(store.callLog(key)) ? readFileSync(store.callLog(key), 'utf8').trim().split('\n') : []);

t.test('the first to settle a call writes its record; the next finds it claimed', async (t) => {
  const store = new StateStore(join(t.testdir(), 'run'), join(t.testdir(), 'calls'));
  store.markRunning('c', call);
  const said: string[] = [];
  t.equal(settleCall(store, cutOffRecord('c', call, now), 'c', (l) => said.push(l)), true, 'ours');
  t.equal(settleCall(store, cutOffRecord('c', call, now), 'c', (l) => said.push(l)), false, 'not twice');
  t.equal(lines(store, 'c').length, 1, 'one record');
  t.same(readdirSync(store.callsDir('c')), [], 'the marker is gone');
  t.same(said, []);
});

t.test('a call with no container has no marker: it is always ours, logged under its key', async (t) => {
  const store = new StateStore(join(t.testdir(), 'run'), join(t.testdir(), 'calls'));
  const rec = { ...cutOffRecord('c', call, now), container: null };
  t.equal(settleCall(store, rec, 'cgroup-x', () => t.fail('no failure')), true);
  t.equal(lines(store, 'cgroup-x').length, 1);
});

t.test('a failed write is one line to the reporter; the marker goes all the same', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, 'calls'), 'not a directory');
  const store = new StateStore(join(dir, 'run'), join(dir, 'calls'));
  store.markRunning('c', call);
  const said: string[] = [];
  t.equal(settleCall(store, cutOffRecord('c', call, now), 'c', (l) => said.push(l)), true, 'claimed');
  t.equal(said.length, 1);
  t.match(said[0], /^call pytest-1: cannot write the call log .*\/calls\/c\.jsonl: /);
  t.notMatch(said[0], /\n/);
  t.same(readdirSync(store.callsDir('c')), [], 'the marker is gone');
});
