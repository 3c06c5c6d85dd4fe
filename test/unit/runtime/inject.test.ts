// The config.json edit: our two stages and the socket mounts, once, around whatever the engine wrote;
// and the gate, which must agree with the hooks.d JSON.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { AgentcgroupError } from '../../../src/errors.js';
import { optsIn } from '../../../src/config/annotations.js';
import { execMounts, execSocketMount } from '../../../src/exec/socketmount.js';
import { type HookSpec, isOurHook } from '../../../src/hook/register.js';
import { injectShim } from '../../../src/runtime/inject.js';

const HOOK: HookSpec = { path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook'], env: ['PATH=/bin'], timeout: 30 };
const MOUNT = [execSocketMount('/run/agentcgroup', 'c1')];
const ours = (stage: string) => ({ path: HOOK.path, args: ['agentcgroup', 'hook', stage], env: ['PATH=/bin'], timeout: 30 });

t.test('adds createRuntime, poststop and the read-only mount last; keeps everything else', async (t) => {
  const config = { ociVersion: '1.1.0', process: { args: ['sh'] }, mounts: [{ destination: '/run', type: 'tmpfs', source: 'tmpfs' }], hooks: { createRuntime: [{ path: '/usr/bin/nvidia-hook' }], prestart: [] }, linux: { cgroupsPath: 'x' } };
  const frozen = structuredClone(config);
  const { config: out, added } = injectShim(config, HOOK, MOUNT);
  t.same(added, ['hooks.createRuntime', 'hooks.poststop', 'mount /run/agentcgroup']);
  t.same(out, {
    ...frozen,
    hooks: { createRuntime: [{ path: '/usr/bin/nvidia-hook' }, ours('createRuntime')], prestart: [], poststop: [ours('poststop')] },
    mounts: [...frozen.mounts, { destination: '/run/agentcgroup', type: 'bind', source: '/run/agentcgroup/sock/c1', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] }],
  });
  t.same(config, frozen, 'the input is not changed');
  const again = injectShim(out, HOOK, MOUNT);
  t.same(again.added, [], 'idempotent');
  t.same(again.config, out);
});

t.test('with the exec client: the directory, then the client over its placeholder, both last and once', async (t) => {
  const config = { ociVersion: '1.1.0', mounts: [{ destination: '/run', type: 'tmpfs', source: 'tmpfs' }] };
  const mounts = execMounts('/run/agentcgroup', 'c1', '/usr/local/lib/agentcgroup/agentcgroup-exec');
  const { config: out, added } = injectShim(config, HOOK, mounts);
  t.same(added, ['hooks.createRuntime', 'hooks.poststop', 'mount /run/agentcgroup', 'mount /run/agentcgroup/agentcgroup-exec']);
  t.same(out.mounts, [
    config.mounts[0],
    { destination: '/run/agentcgroup', type: 'bind', source: '/run/agentcgroup/sock/c1', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    { destination: '/run/agentcgroup/agentcgroup-exec', type: 'bind', source: '/usr/local/lib/agentcgroup/agentcgroup-exec', options: ['bind', 'ro', 'nosuid', 'nodev'] },
  ]);
  t.same(injectShim(out, HOOK, mounts).added, [], 'idempotent');
  const own = injectShim({ mounts: [{ destination: '/run/agentcgroup', type: 'bind', source: '/srv/x' }] }, HOOK, mounts);
  t.same(own.added, ['hooks.createRuntime', 'hooks.poststop'], "a directory of the container's own there: neither mount (the placeholder is in ours, not in it)");
  mounts[1]!.options.push('rw');
  t.same((out.mounts as { options: string[] }[])[2]!.options, ['bind', 'ro', 'nosuid', 'nodev'], 'the config holds its own copy of the options');
});

t.test('a config without hooks or mounts (Go writes null for them)', async (t) => {
  for (const config of [{ ociVersion: '1' }, { ociVersion: '1', hooks: null, mounts: null }]) {
    const { config: out } = injectShim(config, HOOK, MOUNT);
    t.same(Object.keys(out.hooks as object), ['createRuntime', 'poststop']);
    t.equal((out.mounts as unknown[]).length, 1);
  }
});

t.test('ours already there (hooks.d through an engine, or a retried create): nothing added at that stage', async (t) => {
  const fromHooksD = { path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook'] };
  const { added } = injectShim({ hooks: { createRuntime: [fromHooksD] }, mounts: [{ destination: '/run/agentcgroup' }] }, HOOK, MOUNT);
  t.same(added, ['hooks.poststop']);
  t.ok(isOurHook(fromHooksD));
  t.notOk(isOurHook({ path: '/usr/local/bin/agentcgroup', args: ['other', 'hook'] }), 'the marker is argv[0]');
  t.notOk(isOurHook({ path: '/x', args: ['agentcgroup', 'exec'] }));
  t.notOk(isOurHook(null));
});

t.test('malformed parts are errors, not guesses', async (t) => {
  for (const config of [{ hooks: [] }, { hooks: 'x' }, { hooks: { poststop: {} } }, { mounts: {} }]) {
    t.throws(() => injectShim(config as Record<string, unknown>, HOOK, MOUNT), AgentcgroupError, JSON.stringify(config));
  }
});

t.test('the gate', async (t) => {
  const table: [Record<string, string>, boolean, boolean][] = [
    [{}, false, false],
    [{ 'io.agentcgroup.enable': 'true' }, false, true],
    [{ 'io.agentcgroup.enable': '1' }, false, true],
    [{ 'io.agentcgroup.enable': 'TRUE' }, false, false],
    [{ 'io.agentcgroup.enable': 'false' }, false, false],
    [{}, true, true],
    [{ 'io.agentcgroup.enable': 'No' }, true, false],
    [{ 'io.agentcgroup.enable': 'bogus' }, true, true],
    [{ 'io.kubernetes.cri.container-type': 'sandbox', 'io.agentcgroup.enable': 'true' }, true, false],
    [{ 'io.kubernetes.cri.container-type': 'container', 'io.agentcgroup.enable': 'true' }, false, true],
  ];
  for (const [annotations, always, want] of table) t.equal(optsIn(annotations, always), want, `${JSON.stringify(annotations)} always=${always}`);
});

t.test('gated exactly as hooks/agentcgroup.json', async (t) => {
  const when = JSON.parse(readFileSync('hooks/agentcgroup.json', 'utf8')).when.annotations as Record<string, string>;
  const valueRe = new RegExp(Object.values(when)[0] as string);
  for (const v of ['true', '1', 'yes', 'on', 'True', 'false', '', ' true', 'true ', 'onn']) {
    t.equal(optsIn({ 'io.agentcgroup.enable': v }, false), valueRe.test(v), JSON.stringify(v));
  }
});
