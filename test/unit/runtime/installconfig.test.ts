// Docker's daemon.json edit as a pure text function: what install.sh's round trips rest on.
import t from 'tap';
import { AgentcgroupError } from '../../../src/errors.js';
import { addDockerRuntime, DOCKER_ENTRY, removeDockerRuntime, shimPath } from '../../../src/runtime/installconfig.js';

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
  // An earlier install's entry (the binary, with runtimeArgs): replaced by the front, no runtimeArgs left.
  const earlier = JSON.stringify({ runtimes: { agentcgroup: { path: '/usr/local/bin/agentcgroup', runtimeArgs: ['runtime'] } } });
  t.same(JSON.parse(addDockerRuntime(earlier, F)).runtimes.agentcgroup, { path: '/usr/local/bin/agentcgroup-runtime' });
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

t.test('textDiff: the changed lines as one unified hunk with three lines of context', async (t) => {
  const { textDiff } = await import('../../../src/runtime/engineconfig.js');
  t.same(textDiff('/f', 'a\nb\nc\nd\ne\n', 'a\nb\nc\nd\nX\ne\n'), ['--- /f', '+++ /f', '@@ -2,4 +2,5 @@', ' b', ' c', ' d', '+X', ' e']);
  t.same(textDiff('/f', undefined, 'x\ny\n'), ['--- /dev/null', '+++ /f', '@@ -0,0 +1,2 @@', '+x', '+y']);
  t.same(textDiff('/f', 'x\n', undefined), ['--- /f', '+++ /dev/null', '@@ -1,1 +0,0 @@', '-x']);
  t.same(textDiff('/f', '{"a": 1}', '{\n  "a": 1\n}\n'), ['--- /f', '+++ /f', '@@ -1,1 +1,3 @@', '-{"a": 1}', '+{', '+  "a": 1', '+}']);
  // What `patch` makes of it is the new text: the diff is exact, not only readable.
  const before = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\n';
  const after = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\n\n# BEGIN x\ny\n# END x\n';
  const { spawnSync } = await import('node:child_process');
  const dir = t.testdir({ 'f.toml': before });
  const diff = textDiff(`${dir}/f.toml`, before, after);
  const p = spawnSync('patch', ['-s', `${dir}/f.toml`], { input: `${diff.join('\n')}\n`, encoding: 'utf8' });
  if (p.error) return t.pass('no patch on PATH');
  t.equal(p.status, 0, p.stderr + p.stdout);
  t.equal((await import('node:fs')).readFileSync(`${dir}/f.toml`, 'utf8'), after);
});

t.test("the front engine configs name: install.sh's in /usr/local/bin, the Debian package's in /usr/bin", async (t) => {
  t.equal(shimPath(undefined), '/usr/local/bin/agentcgroup-runtime', 'not the single binary (node, tests)');
  t.equal(shimPath('/opt/agentcgroup/agentcgroup'), '/usr/local/bin/agentcgroup-runtime', "the DaemonSet's image: install.sh's place on the host");
  t.equal(shimPath('/usr/local/bin/agentcgroup'), '/usr/local/bin/agentcgroup-runtime', "install.sh's binary");
  t.equal(shimPath('/usr/bin/agentcgroup'), '/usr/bin/agentcgroup-runtime', "the package's binary: its own front");
});
