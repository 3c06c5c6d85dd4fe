import t from 'tap';
import { callName, isToolCallExec, matchesFramework } from '../../../src/policy/classify.js';

const agent = { agentCgroupId: 100n, initPid: 10, framework: [] as string[] };
const exec = (over: Partial<Parameters<typeof isToolCallExec>[0]> = {}) => ({
  pid: 20,
  tgid: 20,
  cgroupId: 100n,
  comm: 'pytest',
  filename: '/usr/bin/pytest',
  ...over,
});

t.test('an exec in the agent leaf is a tool call', async (t) => {
  t.ok(isToolCallExec(exec(), agent));
});

t.test('not a tool call: init, threads, processes outside the agent leaf, framework programs', async (t) => {
  t.notOk(isToolCallExec(exec({ pid: 10, tgid: 10 }), agent), 'the container init re-exec-ing itself');
  t.notOk(isToolCallExec(exec({ pid: 21, tgid: 20 }), agent), 'a thread');
  t.notOk(isToolCallExec(exec({ cgroupId: 101n }), agent), 'already inside a tool call');
  t.notOk(isToolCallExec(exec({ comm: 'node', filename: '/usr/bin/node' }), { ...agent, framework: ['node'] }), 'framework by name');
  t.notOk(isToolCallExec(exec(), { ...agent, framework: ['/usr/bin/py*'] }), 'framework by path glob');
});

t.test('patterns: names match comm, paths match the file, * is the only wildcard', async (t) => {
  const e = { comm: 'claude', filename: '/opt/claude/bin/claude' };
  t.ok(matchesFramework(['claude'], e));
  t.ok(matchesFramework(['cl*'], e));
  t.ok(matchesFramework(['/opt/*/claude'], e));
  t.notOk(matchesFramework(['claude'], { comm: 'claude2', filename: '/x' }), 'whole-name match');
  t.notOk(matchesFramework(['c.aude'], e), '. is literal');
  t.notOk(matchesFramework(['/opt/claude'], e), 'a path pattern does not match the name');
});

t.test('call names come from the program path', async (t) => {
  t.equal(callName({ comm: 'python3', filename: '/usr/bin/python3.11' }), 'python3.11');
  t.equal(callName({ comm: 'sh', filename: '' }), 'sh');
  t.equal(callName({ comm: '', filename: '' }), 'call');
});
