/**
 * `npm run bench:cri` (runs inside the 7.2 test guest with sid's containerd 2.1; prints, asserts
 * nothing). What starting an agent pod costs through CRI, as kubelet starts one (RunPodSandbox,
 * CreateContainer, StartContainer), side by side in one run:
 * - bare: runc, nothing of ours in the path (the daemon runs with NRI off);
 * - shim: the RuntimeClass handler agentcgroup, our runtime shim before runc on every verb and our
 *   hooks in every container of the pod (the pause container's verbs pass through the shim too);
 * - NRI: runc, the daemon as containerd's NRI plugin carving the container at StartContainer;
 * - bare, plugin registered: a pod that does not opt in, on a node where the plugin is registered
 *   (what every other pod pays for it).
 * Rounds alternate a daemon with NRI off (bare, shim) and one with NRI on (NRI, bare with plugin); in
 * each phase the two modes alternate pod by pod, after one pod not measured (the daemon just started),
 * so drift in the emulated guest weighs on all alike.
 */
import { performance } from 'node:perf_hooks';
import { readFileSync, writeFileSync } from 'node:fs';
import { RUNTIME_NAME } from '../src/runtime/installconfig.js';
import type { Checker } from '../test/integration/harness.js';
import { type Scratch, eventually, exited, readOr, run, scratch, startDaemon } from '../test/integration/bundle.js';
import { CriClient } from '../test/integration/cri/client.js';
import { criSockets } from '../test/integration/cri/config.js';
import { MiB, type Started, busyboxContainer, kubeletCleanup, podConfig, ready, startContainerd, writeImages } from '../test/integration/cri/scene.js';
import { type Mode, type Sample, report } from './cri/report.js';
import { join } from 'node:path';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Pods of each mode per daemon phase, the two modes alternating. */
const PER_PHASE = Number(process.env.BENCH_PER_PHASE ?? 3);

/** The scene's checks, for a benchmark: a failed one ends it with what it says. */
const strict: Checker = {
  ok(cond, check, detail) {
    if (!cond) throw new Error(`${check}: ${JSON.stringify(detail)?.slice(0, 2000)}`);
    return true;
  },
  equal(actual, expected, check, detail) {
    return strict.ok(Object.is(actual, expected), check, { actual, expected, detail });
  },
  match(actual, pattern, check, detail) {
    return strict.ok(pattern.test(actual), check, { actual, pattern: String(pattern), detail });
  },
};

/** One pod with one container started and torn down; its timings. */
async function sample(s: Scratch, cri: CriClient, mode: Mode): Promise<Sample> {
  const optIn = mode === 'NRI' || mode === 'shim';
  const pod = podConfig(s, 'bench', optIn ? { 'io.agentcgroup.enable': 'true' } : {});
  const t0 = performance.now();
  const podId = await cri.runPodSandbox(pod.config, mode === 'shim' ? RUNTIME_NAME : '');
  const t1 = performance.now();
  const id = await cri.createContainer(podId, busyboxContainer('agent', ['/bin/sleep', '3600'], { memory: 256 * MiB }), pod.config);
  await cri.startContainer(id);
  const t2 = performance.now();
  if (optIn && readOr(join(s.runDir, 'containers', `${id}.json`)) === '') throw new Error(`${mode}: the container was not carved`);
  await cri.stopPodSandbox(podId);
  await cri.removePodSandbox(podId);
  kubeletCleanup(pod);
  return { mode, podMs: t2 - t0, containerMs: t2 - t1 };
}

async function main(): Promise<void> {
  run('ip', ['link', 'set', 'lo', 'up']);
  const s = scratch();
  const base = readFileSync(s.policy, 'utf8');
  const nri = criSockets(join(s.dir, 'containerd')).nri;
  const policies = { off: join(s.dir, 'policy-off.yaml'), on: join(s.dir, 'policy-on.yaml') };
  writeFileSync(policies.off, `${base}nri:\n  enable: false\n`);
  writeFileSync(policies.on, `${base}nri:\n  enable: true\n  socket: ${nri}\n`);
  const images = writeImages(strict, s);
  const started: Started | undefined = await startContainerd(strict, s, { shim: true });
  if (!images || !started) throw new Error('no containerd');
  const cri = new CriClient(started.grpc);
  await ready(strict, started, cri, images);
  const samples: Sample[] = [];
  const t = Date.now();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const nriOn of round % 2 === 0 ? [false, true] : [true, false]) {
        const daemon = await startDaemon({ ...s, policy: nriOn ? policies.on : policies.off }, `daemon-${round}-${nriOn ? 'nri' : 'off'}.log`);
        try {
          if (nriOn && !(await eventually(() => readOr(daemon.log).includes('NRI: registered with'), 120_000))) {
            throw new Error(`the daemon did not register: ${readOr(daemon.log).slice(-1500)}`);
          }
          const modes: Mode[] = nriOn ? ['NRI', 'bare, plugin registered'] : ['bare', 'shim'];
          // The first pod after a daemon start meets it still settling (its tracker loading): not measured.
          await sample(s, cri, modes[0]!);
          for (let i = 0; i < PER_PHASE; i++) {
            for (const mode of (round + i) % 2 === 0 ? modes : [...modes].reverse()) samples.push(await sample(s, cri, mode));
          }
        } finally {
          daemon.child.kill('SIGTERM');
          await exited(daemon.child);
        }
      }
      console.error(`bench:cri: round ${round + 1} of ${ROUNDS}`);
    }
  } finally {
    cri.close();
    await started.d.stop();
  }
  console.log(`agentcgroup CRI start benchmark: kernel ${readOr('/proc/sys/kernel/osrelease').trim()}, containerd 2.x through CRI, ${ROUNDS} rounds of ${PER_PHASE} pods per mode, ${((Date.now() - t) / 1000).toFixed(0)} s (emulated CPU: compare the ratios, not the milliseconds)`);
  for (const line of report(samples)) console.log(line);
}

main().catch((err: unknown) => {
  console.error(`bench:cri failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
