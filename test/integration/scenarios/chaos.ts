// The chaos run, small (npm run chaos is the long one): container cycles with crun and runc while the
// daemon, hooks, containers' init, tool calls and the runtime mid-delete are SIGKILLed; afterwards
// nothing of ours is left: no cgroup, nothing frozen, no BPF object, no run state, no process, and
// every call that began has exactly one record.
import { runChaos } from '../../chaos/driver.js';
import { LEAK_CHECKS } from '../../chaos/leaks.js';
import { scenario } from '../harness.js';

scenario(async (c) => {
  const lines: string[] = [];
  const r = await runChaos({ cycles: 20, seed: 7, concurrency: 5, say: (l) => lines.push(l) });
  const summary = lines.at(-1)?.split('\n');
  c.equal(r.runProblems.length, 0, 'the chaos run went as planned (no hang, no stale tracker after a daemon kill)', r.runProblems);
  c.ok(r.started > 0, 'containers started', summary);
  c.equal(r.control.outcome, 'ok', "after the chaos, a new container's tool call was placed and logged (outcome ok)", summary);
  c.ok((r.kills.daemon ?? 0) > 0, 'the daemon was SIGKILLed and restarted', r.kills);
  for (const [kinds, check] of LEAK_CHECKS) {
    const found = r.leaks.filter((l) => kinds.includes(l.kind));
    c.equal(found.length, 0, check, found);
  }
});
