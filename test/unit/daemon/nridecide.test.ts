// The daemon's pure NRI decisions: which containers opt in and with which policy, what the runtime is
// asked to add at CreateContainer, which carve path a runtime gets, and what is refused of what a
// runtime reports (ids, pids, annotations).
import t from 'tap';
import { DEFAULT_POLICY, parsePolicyYaml } from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/types.js';
import { AgentcgroupError } from '../../../src/errors.js';
import { execMounts, execSocketMount } from '../../../src/exec/socketmount.js';
import type { HookSpec } from '../../../src/hook/register.js';
import { adjustment, annotationsOf, carveMode, decideOptIn, seen } from '../../../src/daemon/nridecide.js';
import type { Container } from '../../../src/nri/index.js';

const host = (yaml = ''): Policy => parsePolicyYaml(yaml, 'policy.yaml');
const pod = (annotations: Record<string, string> = {}) => ({ annotations });
const ctr = (annotations: Record<string, string> = {}) => ({ annotations });
const ENABLE = 'io.agentcgroup.enable';

t.test('opt-in: the shim gate over pod and container annotations, the container speaking last', async (t) => {
  // [pod, container, shim.always, in?]
  const matrix: [Record<string, string>, Record<string, string>, boolean, boolean][] = [
    [{}, {}, false, false],
    [{ [ENABLE]: 'true' }, {}, false, true],
    [{}, { [ENABLE]: 'true' }, false, true],
    [{ [ENABLE]: 'true' }, { [ENABLE]: 'false' }, false, false],
    [{ [ENABLE]: 'false' }, { [ENABLE]: 'true' }, false, true],
    [{ [ENABLE]: 'TRUE' }, {}, false, false],
    [{}, {}, true, true],
    [{ [ENABLE]: 'off' }, {}, true, false],
    [{}, { [ENABLE]: 'No' }, true, false],
    [{ [ENABLE]: 'true' }, { 'io.kubernetes.cri.container-type': 'sandbox' }, true, false],
    [{ [ENABLE]: 'true', 'io.kubernetes.cri.container-type': 'sandbox' }, { 'io.kubernetes.cri.container-type': 'container' }, false, true],
  ];
  for (const [p, c, always, want] of matrix) {
    const d = decideOptIn(host(always ? 'shim:\n  always: true\n' : ''), pod(p), ctr(c));
    t.equal(d.kind, want ? 'in' : 'out', `pod ${JSON.stringify(p)} container ${JSON.stringify(c)} always=${always}`);
  }
});

t.test('opt-in carries the policy the annotations make of the host, and the refusals', async (t) => {
  const d = decideOptIn(host(), pod({ [ENABLE]: 'true', 'io.agentcgroup.tool.memory_max': '75%' }), ctr({ 'io.agentcgroup.tool.memory_max': '80%', 'io.agentcgroup.priority': 'high' }));
  if (d.kind !== 'in') return t.fail(d.kind);
  t.same(d.policy.tool.memoryMax, { kind: 'percent', percent: 80 }, "the container's own value wins over the pod's");
  t.equal(d.policy.priority, 'normal', 'priority is not allowed by default: the host value');
  t.same(d.refused.map((r) => r.key), ['io.agentcgroup.priority']);
  t.same(DEFAULT_POLICY.tool.memoryMax, { kind: 'percent', percent: 85 }, 'the host policy is not changed');
});

t.test('hostile or invalid annotations of an opted-in container: bad, with one line naming the key', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'io.agentcgroup.tool.memory_max': '../../x' }, /io\.agentcgroup\.tool\.memory_max: refused/],
    [{ 'io.agentcgroup.strict': 'false' }, /io\.agentcgroup\.strict: host-only/],
    [{ 'io.agentcgroup.nri.carve': 'hooks' }, /io\.agentcgroup\.nri\.carve: host-only/],
    [{ 'io.agentcgroup.bogus': '1' }, /io\.agentcgroup\.bogus: unknown key/],
    [{ 'io.agentcgroup.tool.memory_max': 'x'.repeat(65) }, /at most 64 characters/],
    [{ 'io.agentcgroup.tool.memory_max': '1G\n' }, /refused/],
  ];
  for (const [c, want] of cases) {
    const d = decideOptIn(host(), pod({ [ENABLE]: 'true' }), ctr(c));
    t.equal(d.kind, 'bad', JSON.stringify(c));
    if (d.kind === 'bad') {
      t.match(d.why, want);
      t.notMatch(d.why, /\n/, 'one line');
    }
  }
  const out = decideOptIn(host(), pod(), ctr({ 'io.agentcgroup.bogus': '1' }));
  t.equal(out.kind, 'out', 'a container that did not opt in is not judged by its annotations');
});

t.test('only our keys and the container type are kept of what the runtime sends, however much', async (t) => {
  const noise = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`org.example/${i}`, 'x'.repeat(100)]));
  t.same(annotationsOf(pod({ ...noise, [ENABLE]: 'true' }), ctr({ ...noise, 'io.kubernetes.cri.container-type': 'container' })), {
    [ENABLE]: 'true',
    'io.kubernetes.cri.container-type': 'container',
  });
});

const HOOK: HookSpec = { path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook'], env: ['PATH=/usr/bin'], timeout: 30 };
const MOUNT = [execSocketMount('/run/agentcgroup', 'c1')];

t.test('the adjustment: the exec socket mount as the shim adds it; our hooks only for the hooks path', async (t) => {
  const bind = { destination: '/run/agentcgroup', type: 'bind', source: '/run/agentcgroup/sock/c1', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] };
  t.same(adjustment({ mounts: [] }, MOUNT, undefined), { mounts: [bind] }, 'daemon path: the mount alone');
  const hooks = adjustment({ mounts: [] }, MOUNT, HOOK);
  t.same(hooks, {
    mounts: [bind],
    hooks: {
      createRuntime: [{ path: HOOK.path, args: ['agentcgroup', 'hook', 'createRuntime'], env: ['PATH=/usr/bin'], timeout: { value: 30n } }],
      poststop: [{ path: HOOK.path, args: ['agentcgroup', 'hook', 'poststop'], env: ['PATH=/usr/bin'], timeout: { value: 30n } }],
    },
  });
  const own = adjustment({ mounts: [{ destination: '/run/agentcgroup', source: '/srv/x', type: 'bind', options: [] }] as unknown as Container['mounts'] }, MOUNT, undefined);
  t.same(own, {}, 'a container mounting something there itself keeps it (as with the shim)');
  const mount = execSocketMount('/run/agentcgroup', 'c1');
  const made = adjustment({ mounts: [] }, [mount], undefined);
  mount.options.push('rw');
  t.same(made.mounts?.[0]?.options, bind.options, 'the adjustment holds its own copy of the options');
});

t.test('the adjustment with the exec client: both mounts, as the shim adds them, or neither', async (t) => {
  const mounts = execMounts('/run/agentcgroup', 'c1', '/usr/local/lib/agentcgroup/agentcgroup-exec');
  t.same(adjustment({ mounts: [] }, mounts, undefined), {
    mounts: [
      { destination: '/run/agentcgroup', type: 'bind', source: '/run/agentcgroup/sock/c1', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
      { destination: '/run/agentcgroup/agentcgroup-exec', type: 'bind', source: '/usr/local/lib/agentcgroup/agentcgroup-exec', options: ['bind', 'ro', 'nosuid', 'nodev'] },
    ],
  });
  const own = adjustment({ mounts: [{ destination: '/run/agentcgroup', source: '/srv/x', type: 'bind', options: [] }] as unknown as Container['mounts'] }, mounts, undefined);
  t.same(own, {}, "the container's own directory there: no client mount into it either");
});

t.test('carve mode: daemon where the runtime asks between create and start (and, strict, refuses on our error), else hooks; the policy decides when set', async (t) => {
  const table: [Parameters<typeof carveMode>[0], string | undefined, boolean, string][] = [
    ['auto', 'containerd', false, 'daemon'],
    ['auto', 'containerd', true, 'daemon'],
    ['auto', 'cri-o', false, 'daemon'],
    ['auto', 'cri-o', true, 'hooks'],
    ['auto', 'some-runtime', false, 'hooks'],
    ['auto', undefined, false, 'hooks'],
    ['hooks', 'containerd', false, 'hooks'],
    ['daemon', 'other', true, 'daemon'],
  ];
  for (const [setting, runtime, strict, want] of table) t.equal(carveMode(setting, runtime, strict), want, `${setting} ${runtime ?? '(before Configure)'} strict=${strict}`);
});

t.test('what the runtime reports of a container: ids checked, pids bounded, no cgroupsPath is none', async (t) => {
  const c = (o: Partial<Pick<Container, 'id' | 'pid' | 'linux'>>) => ({ id: 'abc', pid: 0, linux: undefined, ...o }) as Pick<Container, 'id' | 'pid' | 'linux'>;
  t.same(seen(c({ pid: 4242, linux: { cgroupsPath: '/k/abc' } as Container['linux'] })), { id: 'abc', pid: 4242, cgroupsPath: '/k/abc' });
  t.same(seen(c({})), { id: 'abc', pid: undefined, cgroupsPath: undefined }, 'pid 0: none (no task yet)');
  t.equal(seen(c({ pid: 4 * 1024 * 1024 + 1 })).pid, undefined, 'beyond PID_MAX_LIMIT');
  t.equal(seen(c({ linux: { cgroupsPath: '' } as Container['linux'] })).cgroupsPath, undefined);
  for (const id of ['', '../etc', 'a/b', 'a\nb', '..', 'x'.repeat(1025)]) t.throws(() => seen(c({ id })), AgentcgroupError, JSON.stringify(id.slice(0, 20)));
});
