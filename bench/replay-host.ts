/**
 * `npm run bench:replay [-- FLAGS]`, the host half: boots the test guest once, runs
 * build/bench/replay-guest.cjs in it with FLAGS, and shows its progress lines as they come (the guest
 * writes them into the results folder, which is in the checkout it shares). `--guest-mb N` sets the
 * guest's memory (default 2048); every other flag goes to the guest (see bench/README.md). With
 * `--native` no guest boots: the same script runs here, on this host's own cgroup v2 tree.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInGuest } from '../test/vm/guest.js';
import { describeError } from '../src/errors.js';
import { hostEnvFrom } from '../src/host/env.js';
import { requireCarvableHost } from '../src/host/support.js';
import { parseOptions } from './replay/options.js';

const args = process.argv.slice(2);
let memoryMb = 2048;
const at = args.indexOf('--guest-mb');
if (at >= 0) {
  memoryMb = Number(args[at + 1]);
  args.splice(at, 2);
  if (!Number.isInteger(memoryMb) || memoryMb < 512) throw new Error('--guest-mb: expected a whole number of MiB, 512 or more');
}
if (args.some((a) => !/^[A-Za-z0-9_.,:/=-]+$/.test(a))) throw new Error(`flags may only hold letters, digits and _.,:/=-: ${args.join(' ')}`);
// The guest script parses them again; a bad flag (or --native with --swap zram) is refused here in
// one line, before minutes of booting a guest.
try {
  parseOptions(args);
} catch (err) {
  process.stderr.write(`bench:replay: ${describeError(err)}\n`);
  process.exit(2);
}
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const out = join('results', `replay-${stamp}`);
if (args.includes('--native')) native();

/**
 * --native: this host is the machine measured. Refused in one line unless it is root on a cgroup v2
 * tree with memory, cpu and pids (a hybrid host binds them to v1); the guest script makes its own
 * subtree and removes it.
 */
function native(): never {
  const refuse = (why: string): never => {
    process.stderr.write(`bench:replay --native: ${why}\n`);
    process.exit(1);
  };
  if (process.getuid?.() !== 0) refuse('needs root (it makes cgroups and runs crun)');
  try {
    requireCarvableHost(hostEnvFrom({}));
  } catch (err) {
    refuse(describeError(err));
  }
  const r = spawnSync(process.execPath, ['build/bench/replay-guest.cjs', '--out', out, ...args], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

mkdirSync(out, { recursive: true });
const log = join(out, 'log.txt');

/**
 * The single binary's start-up on the host itself, beside the guest's: emulation inflates Node's start-up
 * far more than a runtime's, so the report shows both. Alternating, after one warm-up each.
 */
function hostStartup(reps = 11): { without: number[]; with: number[] } | undefined {
  const run = (cmd: string, args: string[]): number => {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  if (!existsSync('dist/agentcgroup')) return undefined;
  run('/bin/true', []);
  run('dist/agentcgroup', ['--version']);
  const out = { without: [] as number[], with: [] as number[] };
  for (let i = 0; i < reps; i++) {
    out.without.push(run('/bin/true', []));
    out.with.push(run('dist/agentcgroup', ['--version']));
  }
  return out;
}
const host = hostStartup();
if (host) writeFileSync(join(out, 'host-startup.json'), JSON.stringify(host));

let shown = 0;
const show = () => {
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  if (text.length > shown) process.stdout.write(text.slice(shown));
  shown = text.length;
};
const tail = setInterval(show, 1000);
const timeoutMs = Number(process.env.AGENTCGROUP_VM_TIMEOUT ?? 2700) * 1000;
const r = await runInGuest({ script: `node build/bench/replay-guest.cjs --out ${out} ${args.join(' ')}`, timeoutMs, memoryMb });
clearInterval(tail);
show();
if (shown === 0) process.stdout.write(r.stdout);
if (r.code !== 0 || r.error) {
  process.stderr.write(r.stderr);
  if (r.error) process.stderr.write(`bench:replay: ${r.error}\n`);
  process.exitCode = r.code || 1;
} else {
  console.log(`guest time ${(r.elapsedMs / 1000).toFixed(0)} s; report: ${join(out, 'report.md')}, plot: ${join(out, 'replay.svg')}`);
}
