// `exec` refuses bad invocations with one line and exit 125 (agentcgroup's own failure), before
// anything is created or run.
import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { runCli } from '../../fixtures/cli.js';
import { FakeKernel } from '../../fixtures/fakekernel.js';

function setup(dir: string) {
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, `paths:\n  run_dir: ${join(dir, 'run')}\n  call_log_dir: ${join(dir, 'calls')}\n`);
  const kernel = new FakeKernel('/sys/fs/cgroup');
  kernel.mkdir('/sys/fs/cgroup/c1');
  return { policy, kernel };
}

const cases: [string, (p: string) => string[], RegExp][] = [
  ['no target', (p) => ['--policy', p, '--', 'true'], /give --container ID or --cgroup PATH.*exec\.sock is not there/],
  ['both targets', (p) => ['--container', 'a', '--cgroup', '/c1', '--policy', p, '--', 'true'], /not both/],
  ['hostile container id', (p) => ['--container', '../x', '--policy', p, '--', 'true'], /container id/],
  ['unknown container', (p) => ['--container', 'nope', '--policy', p, '--', 'true'], /container nope is not carved by agentcgroup/],
  ['uncarved cgroup', (p) => ['--cgroup', '/sys/fs/cgroup/c1', '--policy', p, '--', 'true'], /cgroup \/sys\/fs\/cgroup\/c1 is not carved/],
  ['cgroup path escaping the root', (p) => ['--cgroup', '../../etc', '--policy', p, '--', 'true'], /not a usable cgroup path/],
  ['missing policy file', () => ['--container', 'a', '--policy', '/nonexistent/policy.yaml', '--', 'true'], /not found/],
];
for (const [what, args, pattern] of cases) {
  t.test(what, async (t) => {
    const dir = t.testdir();
    const { policy, kernel } = setup(dir);
    const before = kernel.snapshot();
    const r = await runCli(['exec', ...args(policy)], { fsOps: kernel, env: { AGENTCGROUP_CGROUP_ROOT: '/sys/fs/cgroup', AGENTCGROUP_EXEC_SOCKET: join(dir, 'exec.sock') } });
    t.equal(r.code, 125);
    t.match(r.err, pattern);
    t.match(r.err, /^agentcgroup: exec: [^\n]+\n$/, 'one line');
    t.same(kernel.snapshot(), before, 'nothing created');
  });
}
