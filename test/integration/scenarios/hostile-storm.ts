// A hostile container loading the daemon's tracker: a fork/exec storm beside a calm container.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { againstDaemon, container } from '../attacks.js';
import { type Checker, scenario } from '../harness.js';
import { SHELL_FRAMEWORK, type Scratch, adminAsk, eventually, exited, readOr, run, sleep } from '../bundle.js';

/**
 * One container floods the tracker (a fork/exec storm run as a tool call: its events fill the shared
 * ring) while another's framework starts a tool call every 300 ms: those are still placed, lost
 * events are counted and made up for by a rescan, and the daemon keeps answering.
 */
async function storm(c: Checker, s: Scratch, daemonLog: string): Promise<void> {
  const built = run('clang', ['-static', '-O2', '-o', join(s.dir, 'storm'), resolve('test/integration/agents/storm.c')]);
  if (!c.equal(built.status, 0, 'storm: the generator builds', built.stderr)) return;
  container(s, 'it-hd-calm', { args: ['/bin/sh', '-c', 'while :; do /usr/bin/true; sleep 0.3; done'], annotations: SHELL_FRAMEWORK });
  container(s, 'it-hd-storm');
  const calm = () => readOr(join(s.callDir, 'it-hd-calm.jsonl')).split('\n').filter(Boolean).length;
  c.ok(await eventually(() => calm() >= 3, 120_000), 'storm: the calm container\'s calls are placed before the storm');
  const flood = spawn('crun', ['exec', 'it-hd-storm', '/scratch/storm', '-w', '4', '-s', '60', '/usr/bin/true'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let report = '';
  flood.stdout!.on('data', (d: Buffer) => (report += d.toString()));
  const stormStart = new Date().toISOString();
  const during = calm();
  const pings: string[] = [];
  const started = Date.now();
  // Until five of the calm container's calls are placed while the storm runs (60 s), a ping a second.
  while (Date.now() - started < 55_000 && calm() - during < 5) {
    pings.push(await Promise.race([adminAsk(join(s.runDir, 'admin.sock'), '{"v":1,"op":"ping"}'), sleep(30_000).then(() => 'timeout')]));
    await sleep(1000);
  }
  c.ok(pings.every((p) => /"ok":true/.test(p)), 'storm: the daemon answers every ping during the storm', pings.filter((p) => !/"ok":true/.test(p)));
  const placed = readOr(join(s.callDir, 'it-hd-calm.jsonl'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { start: string; placement?: { afterExecUs: number } });
  const p50 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? null;
  const ms = (before: boolean) => p50(placed.filter((r) => r.placement && r.start < stormStart === before).map((r) => r.placement!.afterExecUs / 1000));
  // The placement figures ride along as detail: a benchmark's matter, not a check's.
  c.ok(calm() - during >= 5, 'storm: the calm container\'s calls are still placed during the storm', { during, after: calm(), placementP50Ms: { before: ms(true), during: ms(false) } });
  await exited(flood);
  c.match(report, /"started":[1-9]/, 'storm: the storm ran', report);
  const snap = await adminAsk(join(s.runDir, 'admin.sock'), '{"v":1,"op":"snapshot"}');
  let counts: { events: number; eventsDropped: number; rescans: number } | undefined;
  try {
    counts = (JSON.parse(snap) as { trackerCounts?: typeof counts }).trackerCounts;
  } catch {
    counts = undefined;
  }
  c.ok((counts?.events ?? 0) > 0, 'storm: the snapshot counts the tracker\'s events', counts);
  c.ok((counts?.eventsDropped ?? 0) === 0 || (counts?.rescans ?? 0) > 0 || /rescanning the agent leaves/.test(readOr(daemonLog)), 'storm: lost events, if any, were made up for by a rescan', counts);
  for (const id of ['it-hd-calm', 'it-hd-storm']) run('crun', ['delete', '-f', id]);
}

scenario((c) => againstDaemon(c, { storm: (c, s, d) => storm(c, s, d.log) }));
