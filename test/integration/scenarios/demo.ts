// `agentcgroup demo` is what README's first command shows: it must tell the truth on a real kernel.
import { spawnSync } from 'node:child_process';
import { scenario } from '../harness.js';
import { CLI } from '../bundle.js';

scenario((c) => {
  const r = spawnSync(process.execPath, [CLI, 'demo'], { encoding: 'utf8', timeout: 300_000 });
  c.equal(r.status, 0, 'demo exits 0', r.stderr);
  c.match(r.stdout, /a 300M tool call: oom_kill [1-9]\d*; the agent is dead/, 'with a flat limit the burst kills the agent');
  // Killed at its memory.max of 224M: the peak is the last charge that fit, a page or a few short of it.
  c.match(r.stdout, /the same 300M tool call: +\S+: oom-killed, peak 2[0-2]\dM/, 'carved, the same burst is killed in its own cgroup');
  c.match(r.stdout, /the agent is running: the call died alone/, 'and the agent lives');
  c.match(r.stdout, /a 180M tool call over its memory\.high: \S+: ok, peak 1\d\dM, throttled [1-9]\d*x, oom_kill 0/, 'a burst over memory.high is throttled, not killed');
  c.match(r.stdout, /raised to \d+M/, 'the daemon raised memory.high for it');
});
