// The hook command the shim and the daemon hand a runtime: this program itself, or the binary
// $AGENTCGROUP_HOOK_BINARY names where the runtime runs hooks in another mount namespace (the daemon's
// Kubernetes pod runs /opt/agentcgroup/agentcgroup; the host has /usr/local/bin/agentcgroup).
import t from 'tap';
import { chmodSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
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

t.test('the native hook front beside the single binary: run in its place, told the binary and the admin socket', async (t) => {
  const top = realpathSync(t.testdir({ bin: { agentcgroup: 'binary', 'agentcgroup-hook': 'front' }, elsewhere: {} }));
  const dir = join(top, 'bin');
  const binary = join(dir, 'agentcgroup');
  const front = join(dir, 'agentcgroup-hook');
  const view: ProcessView = { argv: [binary, binary, 'runtime', 'create'], argv0: 'agentcgroup-runtime', sea: true };
  chmodSync(front, 0o644);
  t.same(hookSpec(view, {}, '/run/agentcgroup/admin.sock'), { path: binary, args: ['agentcgroup', 'hook'], env: [PATH], timeout: 30 }, 'not executable: not installed');
  chmodSync(front, 0o755);
  t.same(
    hookSpec(view, { AGENTCGROUP_POLICY: '/etc/p.yaml' }, '/run/x/admin.sock'),
    { path: front, args: ['agentcgroup', 'hook'], env: [PATH, 'AGENTCGROUP_POLICY=/etc/p.yaml', `AGENTCGROUP_BINARY=${binary}`, 'AGENTCGROUP_ADMIN_SOCKET=/run/x/admin.sock'], timeout: 30 },
    'the same argv; the binary it falls back on and the socket it asks, named',
  );
  t.same(hookSpec(view, {}).env, [PATH, `AGENTCGROUP_BINARY=${binary}`], "no socket given: the front's default");
  const elsewhere = join(top, 'elsewhere');
  symlinkSync(binary, join(elsewhere, 'agentcgroup'));
  t.equal(hookSpec({ ...view, argv: [join(elsewhere, 'agentcgroup'), join(elsewhere, 'agentcgroup')] }, {}, '/s').path, front, 'looked for beside the real file, through links');
  t.equal(hookSpec(view, { AGENTCGROUP_HOOK_BINARY: '/usr/local/bin/agentcgroup' }, '/s').path, '/usr/local/bin/agentcgroup', 'a binary in another mount namespace: no front');
  const node: ProcessView = { argv: [process.execPath, binary], argv0: 'node', sea: false };
  t.equal(hookSpec(node, {}, '/s').path, realpathSync(process.execPath), 'under node: node and the script, never the front');
});
