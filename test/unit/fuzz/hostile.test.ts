// Hostile containers: ids and io.agentcgroup.* values with `..`, `/`, newlines or NUL are refused,
// by name, at every stage and on every path that takes them, with nothing created or changed.
import t from 'tap';
import fc from 'fast-check';
import { join } from 'node:path';
import { ANNOTATION_KEYS } from '../../../src/config/annotations.js';
import { makeBundles, PID, World } from '../../fixtures/fuzzworld.js';
import { hostileId, validId } from './generators.js';
import { fuzz, scratchDir } from './fuzz.js';
import { commandProblems, hookCase } from './oracle.js';

const RUNS = 500;

/** Values no annotation may carry: each holds `..`, `/`, a newline or NUL somewhere. */
const hostileValue = fc
  .tuple(fc.string({ maxLength: 8 }), fc.constantFrom('..', '/', '\n', '\0', '../..', '/etc/passwd', '\r\n'), fc.string({ maxLength: 8 }))
  .map(([a, bad, b]) => `${a}${bad}${b}`);

t.test('hostile container ids are refused at every stage', async (t) => {
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  const w = new World(join(dir, 'host'), 'unified', bundles);
  const cases = fc.record({ id: hostileId, status: fc.constantFrom('created', 'running', 'stopped'), strict: fc.boolean() });
  await fuzz(t, 'hostile ids', cases, RUNS, async ({ id, status, strict }) => {
    w.reset();
    w.writePolicy(strict ? 'strict: true' : '');
    const v = await hookCase(w, [], JSON.stringify({ ociVersion: '1.0.2', id, status, pid: PID, bundle: bundles.plain }));
    const problems = [...v.problems];
    if (v.outcome !== 'refused' || !/: state\.id: /.test(v.err)) problems.push(`not refused by its id: ${v.outcome} ${v.err}`);
    const exec = await w.run(['exec', '--container', id, '--policy', w.policyFile, '--', 'true']);
    problems.push(...commandProblems(exec, 'exec', 125));
    if (!/container id: /.test(exec.err)) problems.push(`exec did not refuse the id: ${exec.err}`);
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
});

t.test('valid ids are not refused for being ids', async (t) => {
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  const w = new World(join(dir, 'host'), 'unified', bundles);
  await fuzz(t, 'valid ids', validId, RUNS / 5, async (id) => {
    w.reset();
    w.writePolicy('');
    const v = await hookCase(w, ['createRuntime'], JSON.stringify({ ociVersion: '1.0.2', id, status: 'created', pid: PID, bundle: bundles.plain }));
    if (v.outcome !== 'carved' || v.problems.length > 0) throw new Error(`${v.outcome} ${v.err} ${v.problems.join('\n')}`);
  });
});

t.test('hostile annotation values are refused by name, from config.json or the state', async (t) => {
  const dir = scratchDir(t);
  const bundles = makeBundles(join(dir, 'bundles'));
  const w = new World(join(dir, 'host'), 'unified', bundles);
  const cases = fc.record({ key: fc.constantFrom(...ANNOTATION_KEYS.map((k) => k.key)), value: hostileValue, inState: fc.boolean() });
  await fuzz(t, 'hostile annotations', cases, RUNS, async ({ key, value, inState }) => {
    w.reset();
    w.writePolicy('');
    const annotations = { [key]: value };
    w.writeConfig(JSON.stringify({ ociVersion: '1.0.2', annotations: inState ? {} : annotations }));
    const state = { ociVersion: '1.0.2', id: 'ctr1', status: 'created', pid: PID, bundle: bundles.plain, ...(inState ? { annotations } : {}) };
    const v = await hookCase(w, [], JSON.stringify(state));
    const problems = [...v.problems];
    if (v.outcome !== 'refused' || !v.err.includes(`annotation ${key}: refused `)) problems.push(`not refused by name: ${v.outcome} ${v.err}`);
    if (!inState) {
      const check = await w.run(['policy', 'check', w.policyFile, '--bundle', bundles.plain]);
      problems.push(...commandProblems(check, 'policy check', 1));
      if (!check.err.includes(`annotation ${key}: refused `)) problems.push(`policy check did not refuse it: ${check.err}`);
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
});
