// Files we create hold container ids and command lines: 0600 files and 0700 directories, set
// explicitly. The umask is 0 here, so a mode left to the umask would show as 0666 or 0777.
import t from 'tap';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StateStore } from '../../../src/state/records.js';
import { CTR, makeBundles, PID, readTree, World } from '../../fixtures/fuzzworld.js';
import { scratchDir } from './fuzz.js';

t.test('run state and call logs are 0600/0700 whatever the umask', async (t) => {
  const old = process.umask(0);
  t.teardown(() => process.umask(old));
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  const w = new World(join(dir, 'host'), 'unified', bundles);
  w.writePolicy('');
  // From nothing: the hook makes the run directory itself, and the "no daemon" marker.
  rmSync(w.runDir, { recursive: true });
  const state = (status: string) => JSON.stringify({ ociVersion: '1.0.2', id: CTR, status, pid: PID, bundle: bundles.plain });
  const carve = await w.run(['hook', '--policy', w.policyFile], state('created'));
  t.equal(carve.code, 0);
  t.match(carve.err, /^agentcgroup: warning: the agentcgroup daemon is not running: [^\n]*\n$/, 'carved, with the once-only notice');

  // A tool call in flight when the container stops: poststop logs it as cut off.
  const store = new StateStore(w.runDir, w.callDir);
  store.markRunning(CTR, { callId: 'pytest-1', name: 'pytest', argv: ['pytest'], cgroup: `/${CTR}/tools/pytest-1`, start: new Date().toISOString(), limits: { high: 1, max: 2 }, owner: 'exec' });
  const during = readTree(w.runDir);
  t.ok(during.has(`containers/${CTR}.json`) && during.has(`calls/${CTR}/pytest-1.json`) && during.has('daemon-absent-warned'), 'record, call marker and notice marker');
  w.runtimeRemoves();
  const stop = await w.run(['hook', 'poststop', '--policy', w.policyFile], state('stopped'));
  t.same(stop, { code: 0, out: '', err: '' });
  const logs = readTree(w.callDir);
  t.ok(logs.has(`${CTR}.jsonl`), 'the cut-off call is logged');

  const entries = [
    ['run dir', { mode: statSync(w.runDir).mode & 0o7777 }],
    ['call log dir', { mode: statSync(w.callDir).mode & 0o7777 }],
    ...[...during].map(([n, e]) => [`run/${n}`, e] as const),
    ...[...logs].map(([n, e]) => [`calls/${n}`, e] as const),
  ] as const;
  for (const [name, e] of entries) {
    const file = 'text' in e && e.text !== undefined;
    t.equal(e.mode, file ? 0o600 : 0o700, `${name}: ${file ? 'file' : 'directory'} mode ${e.mode.toString(8)}`);
  }
  t.ok(entries.length >= 8, `${entries.length} entries checked`);
});
