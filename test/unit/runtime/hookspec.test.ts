// The hook command the shim and the daemon hand a runtime: this program itself, or the binary
// $AGENTCGROUP_HOOK_BINARY names where the runtime runs hooks in another mount namespace (the daemon's
// Kubernetes pod runs /opt/agentcgroup/agentcgroup; the host has /usr/local/bin/agentcgroup).
import t from 'tap';
import { realpathSync } from 'node:fs';
import { hookSpec } from '../../../src/runtime/prepare.js';
import type { ProcessView } from '../../../src/runtime/self.js';

const sea: ProcessView = { argv: [process.execPath, process.execPath, 'daemon'], argv0: 'agentcgroup', sea: true };
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

t.test('by default: this very binary, resolved through links', async (t) => {
  t.same(hookSpec(sea, {}), { path: realpathSync(process.execPath), args: ['agentcgroup', 'hook'], env: [PATH], timeout: 30 });
  t.same(hookSpec(sea, { AGENTCGROUP_HOOK_BINARY: '' }).path, realpathSync(process.execPath), 'empty is unset');
});

t.test('AGENTCGROUP_HOOK_BINARY: the binary as the runtime sees it, taken as it is (it need not exist here)', async (t) => {
  const env = { AGENTCGROUP_HOOK_BINARY: '/usr/local/bin/agentcgroup', AGENTCGROUP_POLICY: '/etc/agentcgroup/policy.yaml' };
  t.same(hookSpec(sea, env), { path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook'], env: [PATH, 'AGENTCGROUP_POLICY=/etc/agentcgroup/policy.yaml'], timeout: 30 }, 'the policy still passed; the variable itself not');
  const node: ProcessView = { argv: [process.execPath, '/nonexistent/agentcgroup.cjs'], argv0: 'node', sea: false };
  t.same(hookSpec(node, env).args, ['agentcgroup', 'hook'], 'the single binary: no script argument, nothing of ours resolved');
});

t.test('AGENTCGROUP_HOOK_BINARY relative: refused with one line, not run from wherever the runtime stands', async (t) => {
  t.throws(() => hookSpec(sea, { AGENTCGROUP_HOOK_BINARY: 'bin/agentcgroup' }), { code: 'hook-binary', message: 'AGENTCGROUP_HOOK_BINARY is not an absolute path: "bin/agentcgroup"' });
});
