// runHook, the hook's one body: what it reads of its environment is exactly host/env.ts HOOK_ENV, the
// list the runtime shim passes to hooks and the native front forwards to the daemon (with the rest of
// its AGENTCGROUP_* variables), so a hook run by the daemon sees everything the process would have.
import t from 'tap';
import { runHook } from '../../../src/hook/run.js';
import { HOOK_ENV } from '../../../src/host/env.js';
import { hookEnv } from '../../fixtures/hookenv.js';

t.test('the hook reads no variable of its environment but HOOK_ENV', async (t) => {
  const h = hookEnv(t.testdir(), { daemonNoticePending: true });
  const read = new Set<string>();
  const env = new Proxy({ AGENTCGROUP_PROC_ROOT: h.proc } as NodeJS.ProcessEnv, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key);
    },
    has(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.has(target, key);
    },
  });
  const run = (stage: string | undefined, stdin: string, policyFile: string | undefined = h.policyFile) =>
    runHook({ stage, policyFile, env, uid: 0, readStdin: async () => stdin, fsOps: h.kernel });
  const carved = await run('createRuntime', h.state('created'));
  t.equal(carved.exit, 0, 'carved');
  t.match(carved.stderr, /^agentcgroup: warning: the agentcgroup daemon is not running/, 'with the notice');
  h.runtimeRemoves();
  t.equal((await run(undefined, h.state('stopped'))).exit, 0, 'torn down');
  t.equal((await run('createRuntime', '{')).exit, 0, 'a bad state');
  t.equal((await run('createRuntime', h.state('created'), `${h.policyFile}.missing`)).exit, 0, 'a policy that does not load');
  t.same([...read].filter((k) => !(HOOK_ENV as readonly string[]).includes(k)), [], `read only ${HOOK_ENV.join(', ')}`);
  t.ok(read.has('AGENTCGROUP_PROC_ROOT'));
});

t.test('never throws: a stdin that cannot be read is the one line of a failed hook', async (t) => {
  const h = hookEnv(t.testdir());
  const out = await runHook({ stage: 'createRuntime', policyFile: h.policyFile, env: {}, uid: 0, readStdin: () => Promise.reject(new Error('more than 1048576 bytes on stdin')) });
  t.same(out, { exit: 0, stderr: 'agentcgroup: createRuntime: more than 1048576 bytes on stdin; the container runs unconstrained\n' });
});
