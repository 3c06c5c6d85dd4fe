// A hostile container loading the daemon's exec socket: a connection flood past its cap and a client
// that writes requests and never reads a reply, beside a neighbour.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { againstDaemon, container, rssKiB } from '../attacks.js';
import { type Checker, scenario } from '../harness.js';
import { CLI, type Scratch, adminAsk, eventually, run, sleep } from '../bundle.js';

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

scenario((c) => againstDaemon(c, { floods: (c, s, d) => floods(c, s, d.pid) }));
