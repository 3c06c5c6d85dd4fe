// The shipped hooks.d files: the containers-hooks 1.0.0 format, the two stages that must run, the
// gate that turns carving on only for annotated containers.
import t from 'tap';
import { readFileSync } from 'node:fs';

const load = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

for (const file of ['hooks/agentcgroup.json', 'hooks/always/agentcgroup.json']) {
  t.test(file, async (t) => {
    const h = load(file);
    t.equal(h.version, '1.0.0');
    t.same(h.stages, ['createRuntime', 'poststop'], 'only the stages that must run: each one costs a Node start');
    t.equal(h.hook.path, '/usr/local/bin/agentcgroup-hook', 'the native front (install.sh points it at the binary when it has none)');
    t.same(h.hook.args, ['agentcgroup', 'hook'], 'the stage is inferred from the state status');
    t.equal(h.hook.env, undefined, "the front's defaults: /run/agentcgroup/admin.sock, else /usr/local/bin/agentcgroup");
  });
}

t.test('the gated hook matches io.agentcgroup.enable=true and nothing else', async (t) => {
  const when = load('hooks/agentcgroup.json').when.annotations as Record<string, string>;
  const [[keyRe, valueRe]] = Object.entries(when) as [[string, string]];
  const matches = (k: string, v: string) => new RegExp(keyRe).test(k) && new RegExp(valueRe).test(v);
  t.ok(matches('io.agentcgroup.enable', 'true'));
  t.ok(matches('io.agentcgroup.enable', '1'));
  t.notOk(matches('io.agentcgroup.enable', 'false'));
  t.notOk(matches('io.agentcgroup.enabled', 'true'));
  t.notOk(matches('xio.agentcgroup.enable', 'true'));
  t.same(load('hooks/always/agentcgroup.json').when, { always: true });
});
