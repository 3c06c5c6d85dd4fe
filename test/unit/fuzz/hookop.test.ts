// Generated states, configs, host policies, stages, hosts and kernel faults through both ways of running
// the hook: `agentcgroup hook` (main(argv)) and the daemon's admin op `hook` as the native front asks
// it. Every case must end the same: exit code, stderr to the byte, the cgroup tree, the run state and
// call logs, the init's oom_score_adj; a poststop after a carve too.
import t from 'tap';
import fc from 'fast-check';
import { join } from 'node:path';
import { answerHook } from '../../../src/daemon/hookop.js';
import { daemonReachable } from '../../../src/hook/daemoncheck.js';
import { HOST_KINDS, type HostKind, type Observation, World, makeBundles } from '../../fixtures/fuzzworld.js';
import { configJson, fault, hostPolicy, ociState, stageArg } from './generators.js';
import { bump, fuzz, scratchDir, type Tally } from './fuzz.js';

const RUNS = 1500;

const b64 = (s: string) => Buffer.from(s).toString('base64');
/** Timestamps of records differ by the milliseconds between the two runs. */
const timeless = (s: string | undefined) => s?.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>').replace(/"durationMs":\d+/g, '"durationMs":0');

function seen(o: Observation) {
  const tree = (m: Observation['run']) => [...m].map(([k, e]) => [k, e.mode, timeless(e.text)]);
  return { kernel: o.kernel, run: tree(o.run), calls: tree(o.calls), oomScoreAdj: o.oomScoreAdj };
}

async function viaOp(w: World, argv: string[], stdin: string): Promise<{ code: number; err: string }> {
  const msg = { op: 'hook', argv: ['agentcgroup', ...argv].map(b64), env: [b64(`AGENTCGROUP_PROC_ROOT=${w.proc}`)], stdin: b64(stdin) };
  const reply = await answerHook(msg, { pid: process.pid, uid: w.uid, gid: 0 }, { fsOps: w.fsOps, viewDifference: () => undefined, daemonReachable: (p) => daemonReachable(p) });
  if (!reply.ok) throw new Error(`declined: ${reply.error} (argv ${JSON.stringify(argv)})`);
  return { code: reply.exit, err: Buffer.from(reply.stderr, 'base64').toString('utf8') };
}

t.test('hook op: generated cases end exactly as the hook process ends them', async (t) => {
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  const worlds = new Map(HOST_KINDS.map((k) => [k, new World(join(dir, k), k, bundles)]));
  const host = fc.oneof({ weight: HOST_KINDS.length * 2, arbitrary: fc.constant<HostKind>('unified') }, ...HOST_KINDS.map((k) => ({ weight: 1, arbitrary: fc.constant(k) })));
  // No argv a process is given holds a NUL.
  const stage = stageArg.filter((a) => a === undefined || !a.includes('\0'));
  const cases = fc.record({ host, policy: hostPolicy, config: configJson, state: ociState(bundles), stage, fault });
  const outcomes: Tally = new Map();

  await fuzz(t, 'hook op', cases, RUNS, async (c) => {
    const w = worlds.get(c.host)!;
    // What a process reads: the state as UTF-8 bytes and back (no lone surrogate survives that).
    const state = Buffer.from(c.state).toString('utf8');
    const argv = ['hook', ...(c.stage === undefined ? [] : [Buffer.from(c.stage).toString('utf8')]), '--policy', w.policyFile];
    const ends: { code: number; err: string; after: ReturnType<typeof seen>; poststop: { code: number; err: string; after: ReturnType<typeof seen> } }[] = [];
    for (const run of [(a: string[], s: string) => w.run(a, s), (a: string[], s: string) => viaOp(w, a, s)]) {
      w.reset();
      w.writePolicy(c.policy);
      w.writeConfig(c.config);
      if (c.fault) w.kernel.failures.set(...c.fault);
      const r = await run(argv, state);
      w.kernel.failures.clear();
      const after = seen(w.observe());
      // Then the runtime removes C and runs poststop: the teardown through the same path.
      if (w.kernel.isDir(`${w.cgRoot}/ctr1`)) w.runtimeRemoves();
      const p = await run(['hook', 'poststop', '--policy', w.policyFile], state);
      // Compared as the bytes stderr carries (a lone surrogate in a message is written as U+FFFD).
      const bytes = (e: string) => Buffer.from(e).toString('utf8');
      ends.push({ code: r.code, err: bytes(r.err), after, poststop: { code: p.code, err: bytes(p.err), after: seen(w.observe()) } });
    }
    const [process, op] = ends;
    const problems: string[] = [];
    if (op!.code !== process!.code || op!.err !== process!.err) problems.push(`exit and stderr: process ${process!.code} ${JSON.stringify(process!.err)}, op ${op!.code} ${JSON.stringify(op!.err)}`);
    if (JSON.stringify(op!.after) !== JSON.stringify(process!.after)) problems.push('the cgroup tree, run state or call logs differ');
    if (JSON.stringify(op!.poststop) !== JSON.stringify(process!.poststop)) problems.push('poststop ends differently');
    bump(outcomes, `${c.host} exit ${process!.code}${process!.err === '' ? '' : ' with stderr'}`);
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
});
