/**
 * One replay agent's OCI bundle: a busybox rootfs with the static agent as /bin/agent (and /bin/tool),
 * its init wrapper if any, the run's control and output folders mounted, and the agent's plan as its
 * command. Writes files; needs `crun spec` (test/integration/bundle.ts).
 */
import { chmodSync, copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Scratch, makeBundle } from '../../test/integration/bundle.js';
import { type Init, agentProcess } from './init.js';

export interface AgentBundle {
  /** The container id, also the bundle's folder name under the scratch directory. */
  id: string;
  /** The agent's index in the pick: its plan is /ctl/plan-<agent>.txt, its output /out/agent-<agent>.txt. */
  agent: number;
  init: Init;
  /** The static agent binary (build/bench/replay-agent). */
  agentBin: string;
  /** Host folders mounted at /ctl (read-only: plans and the go FIFO) and /out. */
  ctl: string;
  out: string;
  cgroupsPath: string;
  memoryLimit?: number;
  /** linux.resources.unified: memory.oom.group as kubelet sets it. */
  unified?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function agentBundle(s: Scratch, b: AgentBundle): string {
  const proc = agentProcess(b.init, ['/bin/agent', `/ctl/plan-${b.agent}.txt`, `/out/agent-${b.agent}.txt`]);
  const bundle = makeBundle(s, b.id, {
    args: proc.args,
    cgroupsPath: b.cgroupsPath,
    ...(b.memoryLimit === undefined ? {} : { memoryLimit: b.memoryLimit }),
    ...(b.unified === undefined ? {} : { unified: b.unified }),
    ...(b.annotations === undefined ? {} : { annotations: b.annotations }),
    binds: [
      { source: b.ctl, destination: '/ctl', readonly: true },
      { source: b.out, destination: '/out' },
    ],
    hookStages: [],
  });
  for (const f of [{ source: b.agentBin, path: '/bin/agent' }, ...proc.files]) {
    const to = join(bundle, 'rootfs', f.path);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(f.source, to);
    chmodSync(to, 0o755);
  }
  symlinkSync('agent', join(bundle, 'rootfs/bin/tool'));
  return bundle;
}
