// test/run.mjs, the README's test command: its last lines name each failure with the start of what
// its YAML block says (CI keeps only the end of the output), then the totals. Run against a stand-in
// tap that prints a fixed stream.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STREAM = `TAP version 14
# Subtest: test/integration/guest-6.1.test.ts
    # Subtest: guest 6.1
        # Subtest: chaos
            ok 1 - containers started
            not ok 2 - no cgroup of ours is left
              ---
              detail:
                actual: 1
                expected: 0
                detail:
                  - kind: cgroup
                    what: agentcgroup-chaos/chaos-7-14
              at:
                fileName: test/integration/guest-tier.ts
              stack: |
                Test.<anonymous> (test/integration/guest-tier.ts:117:33)
              ...
            not ok 3 - timeout!
            ok 4 - after it
            1..4
        not ok 1 - chaos # time=5ms
        1..1
    not ok 1 - guest 6.1 # time=6ms
    1..1
not ok 1 - test/integration/guest-6.1.test.ts # time=7ms
  ---
  signal: SIGTERM
  ...
# { total: 5, pass: 2, fail: 3 }
`;

t.test('each innermost failure once, with its detail and not its stack; then the totals', async (t) => {
  const dir = t.testdir({ test: { vm: { 'tiers.json': '{"guests": []}' } }, 'stream.tap': STREAM });
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  writeFileSync(join(dir, 'node_modules/.bin/tap'), `#!/bin/sh\ncat "${join(dir, 'stream.tap')}"\n`);
  chmodSync(join(dir, 'node_modules/.bin/tap'), 0o755);
  copyFileSync('test/run.mjs', join(dir, 'test/run.mjs'));
  const r = spawnSync(process.execPath, ['test/run.mjs'], { cwd: dir, encoding: 'utf8' });
  const tail = r.stdout.trimEnd().split('\n').slice(-3);
  t.same(tail, [
    'failed: test/integration/guest-6.1.test.ts > guest 6.1 > chaos > no cgroup of ours is left -- detail: actual: 1 expected: 0 detail: - kind: cgroup what: agentcgroup-chaos/chaos-7-14',
    'failed: test/integration/guest-6.1.test.ts > guest 6.1 > chaos > timeout!',
    '2 passed, 3 failed',
  ]);
  t.equal(r.status, 0, 'the stand-in tap exited 0; the exit code is tap\'s');
});
