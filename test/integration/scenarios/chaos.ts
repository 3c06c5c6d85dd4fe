// The chaos run, small (npm run chaos is the long one): container cycles with crun and runc while the
// daemon, hooks, containers' init, tool calls and the runtime mid-delete are SIGKILLed; afterwards
// nothing of ours is left: no cgroup, nothing frozen, no BPF object, no run state, no process, and
// every call that began has exactly one record.
import { runChaos } from '../../chaos/driver.js';
import type { LeakKind } from '../../chaos/leaks.js';
import { scenario } from '../harness.js';

const CHECKS: [LeakKind[], string][] = [
  [['cgroup'], 'no cgroup of ours or of the containers is left'],
  [['frozen'], 'no cgroup is left frozen'],
  [['bpf', 'pinned'], 'no BPF program, link or map is left once the daemon stopped, and nothing is pinned'],
  [['run-state'], 'no record, call marker or socket of a dead container is left in the run dir'],
  [['call-record-missing', 'call-record-duplicate'], 'every call that began has exactly one record'],
  [['process'], 'no hook, runtime or call process of ours is left'],
];

scenario(async (c) => {
  const lines: string[] = [];
  const r = await runChaos({ cycles: 20, seed: 7, concurrency: 5, say: (l) => lines.push(l) });
  const summary = lines.at(-1)?.split('\n');
  c.equal(r.runProblems.length, 0, 'the chaos run went as planned (no hang, no stale tracker after a daemon kill)', r.runProblems);
  c.ok(r.started > 0 && r.callsBegun > 0, 'containers started and tool calls began', summary);
  c.ok((r.kills.daemon ?? 0) > 0, 'the daemon was SIGKILLed and restarted', r.kills);
  for (const [kinds, check] of CHECKS) {
    const found = r.leaks.filter((l) => kinds.includes(l.kind));
    c.equal(found.length, 0, check, found);
  }
});
