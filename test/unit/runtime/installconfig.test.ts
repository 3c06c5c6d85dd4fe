// Docker's daemon.json edit as a pure text function: what install.sh's round trips rest on.
import t from 'tap';
import { AgentcgroupError } from '../../../src/errors.js';
import { addDockerRuntime, DOCKER_ENTRY, removeDockerRuntime } from '../../../src/runtime/installconfig.js';

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
