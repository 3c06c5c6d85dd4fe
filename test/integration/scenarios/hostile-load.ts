// A hostile container loading the daemon: a fork/exec storm beside a calm container, a connection
// flood past its cap and a client that writes requests and never reads a reply, beside a neighbour.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { againstDaemon, container, rssKiB } from '../attacks.js';
import { type Checker, scenario } from '../harness.js';
import { CLI, SHELL_FRAMEWORK, type Scratch, adminAsk, eventually, exited, readOr, run, sleep } from '../bundle.js';

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
  c.ok(calm() - during >= 5, 'storm: the calm container\'s calls are still placed during the storm', { during, after: calm() });
  const placed = readOr(join(s.callDir, 'it-hd-calm.jsonl'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { start: string; placement?: { afterExecUs: number } });
  const p50 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? null;
  const ms = (before: boolean) => p50(placed.filter((r) => r.placement && r.start < stormStart === before).map((r) => r.placement!.afterExecUs / 1000));
  c.ok(true, 'storm: the calm container\'s placement after exec, p50 ms before and during the storm', { before: ms(true), during: ms(false) });
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

/**
 * Opens 64 connections to its exec socket and holds them; then, on one more, writes 16 MiB of
 * requests without reading a reply. Prints what it saw.
 */
const FLOOD = `
const net = require('net');
const path = '/run/agentcgroup/exec.sock';
const open = () => new Promise((resolve) => {
  const s = net.createConnection(path);
  let buf = '';
  s.on('data', (d) => { buf += d; });
  s.on('error', () => {});
  s.on('close', () => resolve({ s, buf, closed: true }));
  setTimeout(() => resolve({ s, buf, closed: s.destroyed }), 3000);
});
(async () => {
  const held = await Promise.all(Array.from({ length: 64 }, open));
  const refused = held.filter((h) => /too many connections/.test(h.buf)).length;
  const open_ = held.filter((h) => !h.closed).length;
  for (const h of held) h.s.destroy();
  await new Promise((r) => setTimeout(r, 1000));
  const flood = net.createConnection(path);
  flood.on('error', () => {});
  flood.pause();
  const line = JSON.stringify({ v: 1, op: 'end', call: 'x'.repeat(200), exit: 0, signal: null }) + '\\n';
  let written = 0;
  const closed = new Promise((r) => flood.on('close', r));
  // Reads nothing while it writes; once all is written it reads, so it sees the daemon's end (a paused
  // socket that no longer writes would never learn of it).
  let got = '';
  flood.on('data', (d) => { got += d; });
  flood.pause();
  flood.on('connect', () => { const chunk = line.repeat(1000); const pump = () => { while (written < (16 << 20) && !flood.destroyed) { written += chunk.length; if (!flood.write(chunk)) return flood.once('drain', pump); } flood.resume(); }; pump(); });
  const r = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 60000))]);
  console.log(JSON.stringify({ refused, open: open_, flood: r, written, lines: got.split('\\n').filter(Boolean).length }));
  process.exit(0);
})();
`;

async function floods(c: Checker, s: Scratch, daemonPid: number): Promise<void> {
  container(s, 'it-hd-flood');
  container(s, 'it-hd-neighbour');
  c.ok(await eventually(() => ['it-hd-flood', 'it-hd-neighbour'].every((id) => existsSync(join(s.runDir, 'sock', id, 'exec.sock'))), 60_000), 'floods: both exec sockets are served');
  const rssBefore = rssKiB(daemonPid);
  const r = run('crun', ['exec', 'it-hd-flood', process.execPath, '-e', FLOOD]);
  let seen: { refused?: number; open?: number; flood?: string; written?: number; lines?: number } = {};
  try {
    seen = JSON.parse(r.stdout) as typeof seen;
  } catch {
    seen = {};
  }
  c.ok((seen.refused ?? 0) >= 64 - 16 && (seen.open ?? 99) <= 16, 'floods: past limits.exec_connections (16) a connection is refused with one line', { seen, stderr: r.stderr });
  c.equal(seen.flood, 'closed', 'floods: a client that writes requests without reading is dropped', seen);
  c.equal(seen.lines, 1, 'floods: after one error line for its first request, whatever it wrote', seen);
  const grown = rssKiB(daemonPid) - rssBefore;
  c.ok(grown < 64 * 1024, 'floods: the daemon did not buffer the flood (RSS grew less than 64 MiB)', { grownKiB: grown });
  const neighbour = run('crun', ['exec', 'it-hd-neighbour', process.execPath, CLI, 'exec', '--', '/usr/bin/true']);
  c.equal(neighbour.status, 0, 'floods: another container still runs a tool call through its socket', neighbour.stderr);
  const answer = await Promise.race([adminAsk(join(s.runDir, 'admin.sock'), '{"v":1,"op":"ping"}'), sleep(60_000).then(() => 'timeout')]);
  c.match(answer, /"ok":true/, 'floods: and the daemon answers', answer);
  for (const id of ['it-hd-flood', 'it-hd-neighbour']) run('crun', ['delete', '-f', id]);
}

scenario((c) =>
  againstDaemon(c, {
    storm: (c, s, d) => storm(c, s, d.log),
    floods: (c, s, d) => floods(c, s, d.pid),
  }),
);
