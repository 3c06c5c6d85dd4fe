// The engine-config edits as pure text functions: what install.sh's round trips rest on.
import t from 'tap';
import { AgentcgroupError } from '../../../src/errors.js';
import { addContainerdRuntime, addDockerRuntime, DOCKER_ENTRY, removeContainerdRuntime, removeDockerRuntime } from '../../../src/runtime/installconfig.js';

const F = '/etc/x';

t.test('docker: add keeps keys, order and indentation; remove is its exact inverse', async (t) => {
  const cases: [string, string[]][] = [
    ['{\n\t"debug": true\n}\n', ['debug', 'runtimes']],
    ['{\n    "runtimes": {\n        "crun": {\n            "path": "/usr/bin/crun"\n        }\n    },\n    "a": 1\n}\n', ['runtimes', 'a']],
  ];
  for (const [original, keys] of cases) {
    const added = addDockerRuntime(original, F);
    const doc = JSON.parse(added);
    t.same(doc.runtimes.agentcgroup, DOCKER_ENTRY);
    t.same(Object.keys(doc), keys, 'keys in their order');
    t.equal(addDockerRuntime(added, F), added, 'adding twice: same text');
    t.equal(removeDockerRuntime(added, F), original, 'removed: the original bytes');
    t.equal(removeDockerRuntime(original, F), original, 'nothing of ours: unchanged');
  }
  t.equal(removeDockerRuntime(addDockerRuntime('', F), F), undefined, 'only ours: the file goes');
  t.equal(removeDockerRuntime(addDockerRuntime('  \n', F), F), undefined, 'an empty file counts as {}');
});

t.test('docker: an outdated entry of ours is replaced', async (t) => {
  const old = JSON.stringify({ runtimes: { agentcgroup: { path: '/opt/agentcgroup' } } });
  t.same(JSON.parse(addDockerRuntime(old, F)).runtimes.agentcgroup, DOCKER_ENTRY);
});

t.test('docker: refusals name the file and change nothing', async (t) => {
  for (const [text, pattern] of [
    ['{"a":', /^\/etc\/x: not JSON \(.*\); left unchanged$/],
    ['[]', /must be a JSON object/],
    ['{"runtimes": []}', /"runtimes" must be an object/],
  ] as const) {
    t.throws(() => addDockerRuntime(text, F), { constructor: AgentcgroupError, message: pattern });
  }
  t.throws(() => removeDockerRuntime('{"default-runtime":"agentcgroup","runtimes":{"agentcgroup":{}}}', F), { message: /"default-runtime" is "agentcgroup"/ });
});

const TOML = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "crun"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
  BinaryName = "/usr/bin/crun"
  SystemdCgroup = true
`;

t.test('containerd: the block follows the default runtime and comes out exactly', async (t) => {
  const added = addContainerdRuntime(TOML, F);
  t.ok(added.startsWith(`${TOML}\n# BEGIN agentcgroup`), 'appended after a blank line');
  t.match(added, /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.agentcgroup\.options\]\n {2}BinaryName = "\/usr\/local\/bin\/agentcgroup-runtime"\n {2}SystemdCgroup = true\n# END agentcgroup\n$/);
  t.equal(addContainerdRuntime(added, F), added, 'adding twice: same text');
  t.equal(removeContainerdRuntime(added, F), TOML);
  t.equal(removeContainerdRuntime(TOML, F), TOML);
  const noNewline = TOML.trimEnd();
  t.equal(removeContainerdRuntime(addContainerdRuntime(noNewline, F), F), `${noNewline}\n`, 'a file without a final newline gets one');
  const quoted = TOML.replace(/"io\.containerd\.grpc\.v1\.cri"/g, "'io.containerd.grpc.v1.cri'").replace('[plugins', '[ plugins');
  t.match(addContainerdRuntime(quoted, F), /SystemdCgroup = true\n# END/, 'single quotes and spaces in table headers');
  t.match(addContainerdRuntime(TOML.replace('SystemdCgroup = true', '# SystemdCgroup = true'), F), /SystemdCgroup = false\n# END/, 'a commented-out setting is not set');
  t.throws(() => addContainerdRuntime(TOML.replace('default_runtime_name = "crun"', 'default_runtime_name = "kata"'), F), { message: /does not define the default runtime \[.*runtimes\.kata\]/ });
  t.throws(() => removeContainerdRuntime(`${TOML}# BEGIN agentcgroup: added by install.sh --containerd, removed by install.sh --uninstall\n[x]\n`, F), { message: /without its end line/ });
});
