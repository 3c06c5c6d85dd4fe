import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { runCli } from '../fixtures/cli.js';

t.test('status without a daemon: one line, exit 1', async (t) => {
  const dir = t.testdir();
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, `paths:\n  run_dir: ${dir}/run\n  call_log_dir: ${dir}/calls\n`);
  const r = await runCli(['status', '--policy', policy]);
  t.equal(r.code, 1);
  t.match(r.err, /^agentcgroup: status: the agentcgroup daemon is not reachable at .*admin\.sock \(ENOENT\): is it running, and are you root\?\n$/);
});
