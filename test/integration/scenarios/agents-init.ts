// Real container shapes, part 1: the framework under an init wrapper (tini as docker --init, dumb-init,
// catatonit as podman --init), under an entrypoint script, under `sh -c "a; b"` and through a language
// launcher (env + python -m). In each, the framework (python3) stays in the agent leaf and each of its
// four tool calls runs in a cgroup of its own.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from '../harness.js';
import { exited, scratch, startDaemon } from '../bundle.js';
import { AGENTS, AGENT_PY, type CallLine, type Shape, callRecords, expectCalls, expectFramework, startShape, stopShape } from '../shapes.js';

const SHAPES: (Shape & { inAgent: RegExp[] })[] = [
  { id: 'it-tini', args: ['/usr/bin/tini', '--', 'python3', AGENT_PY, 'subprocess', '/out'], inAgent: [/^\/usr\/bin\/tini /, /agent\.py subprocess/] },
  { id: 'it-dumb-init', args: ['/usr/bin/dumb-init', 'python3', AGENT_PY, 'shell-true', '/out'], inAgent: [/^\/usr\/bin\/dumb-init /, /agent\.py shell-true/] },
  { id: 'it-catatonit', args: ['/usr/bin/catatonit', '--', 'python3', AGENT_PY, 'subprocess', '/out'], inAgent: [/^\/usr\/bin\/catatonit /, /agent\.py subprocess/] },
  { id: 'it-entrypoint', args: ['/bin/sh', join(AGENTS, 'entrypoint.sh'), '/out'], inAgent: [/entrypoint\.sh/, /agent\.py subprocess/] },
  { id: 'it-sh-c', args: ['/bin/sh', '-c', `python3 ${AGENT_PY} shell-true /out; echo done`], inAgent: [/^\/bin\/sh -c python3/, /agent\.py shell-true/] },
  { id: 'it-python-m', args: ['/usr/bin/env', `PYTHONPATH=${AGENTS}`, 'python3', '-m', 'agent', 'subprocess', '/out'], inAgent: [/^python3 -m agent subprocess/] },
];

scenario(async (c) => {
  const s = scratch();
  const daemon = await startDaemon(s);
  try {
    for (const shape of SHAPES) {
      const r = await startShape(c, s, shape);
      if (!r) continue;
      await expectCalls(c, r, { calls: 4, inAgent: shape.inAgent });
      await expectFramework(c, s, r, 'python3');
      stopShape(r);
      const byFramework = (recs: CallLine[]) => recs.length >= 4 && recs.every((k) => k.startedBy?.role === 'framework' && k.startedBy.name === 'python3');
      const records = await callRecords(s, shape.id, byFramework);
      c.ok(byFramework(records), `${shape.id}: every call record says the framework python3 started it`, records);
    }
  } finally {
    daemon.child.kill('SIGTERM');
    c.equal(await exited(daemon.child), 0, 'the daemon stops cleanly');
  }
  const log = readFileSync(daemon.log, 'utf8');
  c.ok(!/held at exec and gone|cannot start a call|unavailable/.test(log), 'the daemon lost no held process and started every call', log.slice(-3000));
});
