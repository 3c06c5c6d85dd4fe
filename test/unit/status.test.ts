import t from 'tap';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { runCli } from '../fixtures/cli.js';
import { fakeDaemon, policyIn, shortDir } from '../fixtures/fakeadmin.js';
import { sampleSnapshot } from '../fixtures/snapshot.js';

const snapshotReply = () => ({ v: 1, ok: true, ...sampleSnapshot() });

t.test('status, top and metrics without a daemon: one line, exit 1', async (t) => {
  // A short directory: a socket path over 107 bytes fails otherwise (next test), wherever the checkout is.
  const policy = policyIn(shortDir(t));
  for (const cmd of [['status'], ['status', '--json'], ['top', '--once'], ['top'], ['metrics']]) {
    const r = await runCli([...cmd, '--policy', policy]);
    t.equal(r.code, 1, cmd.join(' '));
    t.match(r.err, new RegExp(`^agentcgroup: ${cmd[0]}: the agentcgroup daemon is not reachable at .*admin\\.sock \\(ENOENT\\): is it running, and are you root\\?\\n$`), cmd.join(' '));
    t.equal(r.out, '', `${cmd.join(' ')}: nothing on stdout`);
  }
});

t.test('a run_dir too deep for a unix socket address is named, not connected to somewhere else', async (t) => {
  const deep = join(shortDir(t), 'd'.repeat(120));
  mkdirSync(deep);
  const policy = policyIn(deep);
  const r = await runCli(['status', '--policy', policy]);
  t.equal(r.code, 1);
  t.match(r.err, /^agentcgroup: status: the socket path \S+admin\.sock is \d+ bytes, longer than the 107 a unix socket address holds: choose a shorter paths\.run_dir\n$/);
});

t.test('status --json carries the snapshot; status without it lists ids', async (t) => {
  const { policy, ops } = await fakeDaemon(t, (op) => (op === 'snapshot' ? snapshotReply() : { v: 1, ok: false, error: 'no' }));
  const json = await runCli(['status', '--json', '--policy', policy]);
  t.equal(json.code, 0, json.err);
  t.match(json.out, /^\{"v":1,"ok":true,"containers":\[\{"id":"agent-1"/);
  const parsed = JSON.parse(json.out) as ReturnType<typeof snapshotReply>;
  t.equal(parsed.containers[0]!.calls[0]!.memory.current, 40 << 20);
  t.equal(parsed.containers[0]!.calls[1]!.state, 'frozen');
  const text = await runCli(['status', '--policy', policy]);
  t.equal(text.out, 'tracker on (75 events lost, 2 rescans), 1 container(s), 2 tool call(s) running\nNRI connected (synchronized)\nagent-1  /machine/agent-1  framework python3[12] < tini[10]  calls hog-m1abc-0a1b2c idle-m1abd-3d4e5f\n');
  t.same(ops, ['snapshot', 'snapshot']);
});

t.test('top --once prints one plain frame; metrics prints the daemon\'s text', async (t) => {
  const { policy, ops } = await fakeDaemon(t, (op) => (op === 'snapshot' ? snapshotReply() : { v: 1, ok: true, text: 'agentcgroup_containers 1\n' }));
  const top = await runCli(['top', '--once', '--policy', policy]);
  t.equal(top.code, 0, top.err);
  t.notOk(top.out.includes('\x1b'), 'no escape codes');
  t.match(top.out, /^agentcgroup top {2}10:00:05 {2}tracker on \(75 events lost, 2 rescans\) {2}1 container\(s\), 2 tool call\(s\)\n/);
  t.match(top.out, /^ {2}hog-m1abc-0a1b2c +throttled +40M +40M +200M +41M /m);
  t.match(top.out, /^ {2}idle-m1abd-3d4e5f +frozen /m);
  const frames = await runCli(['top', '--frames', '2', '--interval', '0.01', '--policy', policy]);
  t.equal(frames.out.split('agentcgroup top ').length - 1, 2, 'not a terminal: two frames in sequence');
  const metrics = await runCli(['metrics', '--policy', policy]);
  t.same([metrics.code, metrics.out, metrics.err], [0, 'agentcgroup_containers 1\n', '']);
  t.same(ops, ['snapshot', 'snapshot', 'snapshot', 'metrics']);
});

t.test('a refusal, a reply of another version, bad options: one line, exit 1', async (t) => {
  let reply: unknown = { v: 1, ok: false, error: 'unknown op "snapshot"' };
  const { policy } = await fakeDaemon(t, () => reply);
  for (const cmd of ['status', 'top', 'metrics']) {
    const r = await runCli([cmd, '--policy', policy, ...(cmd === 'top' ? ['--once'] : [])]);
    t.same([r.code, r.err], [1, `agentcgroup: ${cmd}: the daemon refused: unknown op "snapshot"\n`], cmd);
  }
  reply = { v: 1, ok: true, containers: [{ id: 'x' }], calls: 1, tracker: true, at: 'now' };
  const bad = await runCli(['top', '--once', '--policy', policy]);
  t.same([bad.code, bad.out], [1, '']);
  t.match(bad.err, /^agentcgroup: top: the daemon's snapshot is not what this agentcgroup reads \(containers\[0\]\.cgroup is not a string\): is it another version\?\n$/);
  reply = { v: 1, ok: true };
  t.match((await runCli(['metrics', '--policy', policy])).err, /^agentcgroup: metrics: the daemon sent no metrics text: is it another version\?\n$/);
  for (const [opt, value] of [['--interval', '0'], ['--interval', 'soon'], ['--frames', '1.5'], ['--frames', '-1']]) {
    const r = await runCli(['top', opt!, value!, '--policy', policy]);
    t.equal(r.code, 1, `${opt} ${value}`);
    t.match(r.err, new RegExp(`^agentcgroup: top: ${opt} must be .* above 0 and at most \\d+, got "${value}"\\n$`));
  }
});

t.test("status says how the daemon's NRI link stands, on one line of its own; an older daemon's reply has none", async (t) => {
  const { policy } = await fakeDaemon(t, () => ({ ...snapshotReply(), nri: { state: 'waiting', detail: 'waiting: connection ended:\nforged line' } }));
  const text = await runCli(['status', '--policy', policy]);
  t.equal(text.code, 0, text.err);
  t.equal(text.out.split('\n')[1], 'NRI waiting (waiting: connection ended:\\u000aforged line)', 'the detail escaped: it holds the runtime\'s words');
  const { policy: old } = await fakeDaemon(t, () => ({ ...snapshotReply(), nri: undefined }));
  t.notMatch((await runCli(['status', '--policy', old])).out, /NRI/);
  const { policy: bad } = await fakeDaemon(t, () => ({ ...snapshotReply(), nri: { state: 'up', detail: '' } }));
  const r = await runCli(['status', '--policy', bad]);
  t.equal(r.code, 1);
  t.match(r.err, /reply\.nri\.state is not one of connected, waiting, off/);
});

t.test('status and top show containers running uncarved, one escaped line each; metrics counts them', async (t) => {
  const uncarved = [{ id: 'u1', at: '2025-01-01T10:00:01.000Z', stage: 'createRuntime', reason: 'cgroup.procs: EACCES\nforged line' }];
  const { policy } = await fakeDaemon(t, () => ({ ...snapshotReply(), uncarved }));
  const status = await runCli(['status', '--policy', policy]);
  t.equal(status.code, 0, status.err);
  t.ok(status.out.split('\n').includes('UNCARVED u1 (createRuntime, 10:00:01): cgroup.procs: EACCES\\u000aforged line'), status.out);
  const top = await runCli(['top', '--once', '--policy', policy]);
  t.match(top.out, /^agentcgroup top .* 1 UNCARVED/m, 'counted in the title');
  t.match(top.out, /^UNCARVED u1 \(createRuntime, 10:00:01\): /m, 'and listed below the table');
  const { policy: bad } = await fakeDaemon(t, () => ({ ...snapshotReply(), uncarved: [{ ...uncarved[0], stage: 'boot' }] }));
  const r = await runCli(['status', '--policy', bad]);
  t.equal(r.code, 1);
  t.match(r.err, /uncarved\[0\]\.stage is not one of createRuntime, poststart, shim/);
});
