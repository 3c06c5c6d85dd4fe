// Unsupported hosts (cgroup v1, hybrid, missing controllers, not root): the hook says what is wrong in
// one line and lets the container start (exit 0), or stops it under a strict policy (exit 1); exec and
// the daemon refuse with one line and a non-zero exit. Last, the same on this machine's real host,
// read-only.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { realFsOps } from '../../../src/cgroup/cgroupfs.js';
import { parseMountinfo, pickCgroup2Mount } from '../../../src/cgroup/mountinfo.js';
import { runCli } from '../../fixtures/cli.js';
import { CTR, type HostKind, makeBundles, PID, readOnly, World } from '../../fixtures/fuzzworld.js';
import { commandProblems, hookCase, stderrProblems } from './oracle.js';
import { scratchDir } from './fuzz.js';

/** What the one line must name, per host. */
const PROBLEM: Record<Exclude<HostKind, 'unified'>, RegExp> = {
  'no-pids': /container cgroup \/ctr1 lacks the pids controller \(has: cpu memory\)/,
  'no-memory': /container cgroup \/ctr1 lacks the memory controller \(has: cpu pids\)/,
  'hybrid-root': /container process 4242 sits in the cgroup2 root: its cgroup is managed on cgroup v1 \(hybrid host\?\)/,
  'hybrid-unified': /container cgroup \/ctr1 lacks the memory, cpu, pids controllers \(has: hugetlb\)/,
  v1: /no cgroup2 filesystem is mounted \(cgroup v1 host\): agentcgroup needs the unified hierarchy/,
  'non-root': /must run as root to carve the container's cgroup \(running as uid 1000\)/,
};
/** Hosts whose cgroup2 root offers no memory, cpu and pids at all: the daemon has nothing to do there. */
const DAEMON_REFUSES: Partial<Record<HostKind, RegExp>> = {
  v1: /no cgroup2 filesystem is mounted/,
  'hybrid-root': /does not offer memory, cpu, pids \(has: hugetlb\): they are bound to cgroup v1 \(a hybrid host\) or disabled/,
  'hybrid-unified': /does not offer memory, cpu, pids \(has: hugetlb\)/,
  'non-root': /must run as root/,
};

for (const [kind, problem] of Object.entries(PROBLEM) as [Exclude<HostKind, 'unified'>, RegExp][]) {
  t.test(`${kind}: one line, the container starts unless strict`, async (t) => {
    const dir = scratchDir(t);
    const bundles = makeBundles(join(dir, 'bundles'));
    const w = new World(join(dir, 'host'), kind, bundles);
    const state = (status: string) => JSON.stringify({ ociVersion: '1.0.2', id: CTR, status, pid: PID, bundle: bundles.plain });
    for (const [stage, status] of [['createRuntime', 'created'], ['poststart', 'running'], [undefined, 'creating']] as const) {
      for (const strict of [false, true]) {
        w.reset();
        w.writePolicy(strict ? 'strict: true' : '');
        const v = await hookCase(w, stage === undefined ? [] : [stage], state(status));
        const what = `${stage ?? status}${strict ? ', strict' : ''}`;
        t.same(v.problems, [], `${what}: the rules hold`);
        t.equal(v.outcome, 'refused', `${what}: refused`);
        t.match(v.err, problem, `${what}: names the problem`);
        t.match(v.err, strict ? /refusing to start the container \(strict policy\)\n$/ : /the container runs unconstrained\n$/, `${what}: says what follows`);
      }
    }
    w.reset();
    w.writePolicy('');
    const stop = await hookCase(w, ['poststop'], state('stopped'));
    t.same([stop.outcome, stop.err, stop.problems], ['untouched', '', []], 'poststop has nothing to clean up and says nothing');

    for (const target of [['--container', CTR], ['--cgroup', `/${CTR}`]]) {
      const exec = await w.run(['exec', ...target, '--policy', w.policyFile, '--', 'true']);
      t.same(commandProblems(exec, 'exec', 125), [], `exec ${target.join(' ')}: one line, exit 125`);
      t.equal(exec.code, 125);
    }
    const daemonRefusal = DAEMON_REFUSES[kind];
    if (daemonRefusal) {
      const daemon = await w.run(['daemon', '--policy', w.policyFile]);
      t.same(commandProblems(daemon, 'daemon', 1), [], 'daemon: one line, exit 1');
      t.match(daemon.err, daemonRefusal, 'daemon: names the problem');
    }
  });
}

// This machine's host is hybrid (see the notes): the hook, run for real against its /proc and its
// cgroupfs made read-only, must say so in one line. Skipped where the host has cgroup v2 memory.
const hostCgroup2 = pickCgroup2Mount(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')));
const hostOffers = (() => {
  try {
    return hostCgroup2 ? readFileSync(join(hostCgroup2.mountPoint, 'cgroup.controllers'), 'utf8') : '';
  } catch {
    return '';
  }
})();
t.test('this host, for real and read-only', { skip: /\bmemory\b/.test(hostOffers) ? 'this host has cgroup v2 memory' : false }, async (t) => {
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  const w = new World(join(dir, 'host'), 'unified', bundles);
  const fsOps = readOnly(realFsOps, 'EROFS');
  const state = JSON.stringify({ ociVersion: '1.0.2', id: 'agentcgroup-fuzz-host', status: 'created', pid: process.pid, bundle: bundles.plain });
  for (const strict of [false, true]) {
    w.reset();
    w.writePolicy(strict ? 'strict: true' : '');
    const r = await runCli(['hook', '--policy', w.policyFile], { stdin: state, fsOps });
    t.equal(r.code, strict ? 1 : 0, `exit ${strict ? 1 : 0}${strict ? ' (strict)' : ''}`);
    t.same(stderrProblems(r.err), [], 'one printable line');
    t.match(r.err, /^agentcgroup: createRuntime for container agentcgroup-fuzz-host: [^\n]*(cgroup v1|lacks the)[^\n]*\n$/, r.err);
  }
  const daemon = await runCli(['daemon', '--policy', w.policyFile], { fsOps });
  t.equal(daemon.code, 1, 'the daemon does not start');
  t.match(daemon.err, /^agentcgroup: daemon: (no cgroup2 filesystem|the cgroup2 hierarchy at \S+ does not offer memory)[^\n]*\n$/);
});
