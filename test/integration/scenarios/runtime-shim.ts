// `agentcgroup runtime` in front of runc and crun, called the way containerd's runc shim (go-runc) and
// Docker call a runtime: global options first, create with a pid file, then start, state, kill, delete.
// The container is carved through the hooks the shim added, once, and gets the exec socket directory and
// the exec client mounted (read-only, the client executable); signals reach the container; exit codes
// pass through; poststop and delete leave nothing of ours.
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type Checker, scenario } from '../harness.js';
import { CLI, type Scratch, binaryRuns, eventually, installExecClient, makeBundle, onlyCreates, readOr, runtimeFront, scratch } from '../bundle.js';

const MiB = 1 << 20;
const cg = (rel: string, file = '') => join('/sys/fs/cgroup', rel, file);

interface Shim {
  /** The shim's command line up to the runtime's arguments: the program, then its own arguments. */
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Global options as containerd passes them. */
  globals: string[];
  log: string;
}

/**
 * runc behind the native runtime front as install.sh installs it (what Docker's runtime path and
 * containerd's BinaryName run: start, state, kill, delete go to runc by exec, create and run to the
 * shim); crun behind the shim itself, as without a front (the binary by its agentcgroup-runtime name).
 */
function shimFor(s: Scratch, rt: string, bundle: string): Shim {
  const env = { ...process.env, AGENTCGROUP_POLICY: s.policy };
  const globals = ['--root', join(s.dir, `state-${rt}`), '--log', join(bundle, 'log.json'), '--log-format', 'json'];
  const log = join(s.dir, `${rt}.out`);
  if (rt === 'runc') return { argv: [runtimeFront(s)], env: { ...env, AGENTCGROUP_RUNTIME: 'runc' }, globals, log };
  const link = join(s.dir, 'agentcgroup-runtime');
  if (!existsSync(link)) symlinkSync(CLI, link);
  return { argv: [process.execPath, link], env: { ...env, AGENTCGROUP_RUNTIME: 'crun' }, globals, log };
}

/** One runtime call through the shim; stdio goes to a file, since a created container keeps it open. */
function call(sh: Shim, args: string[]): SpawnSyncReturns<Buffer> {
  const fd = openSync(sh.log, 'a');
  try {
    return spawnSync(sh.argv[0]!, [...sh.argv.slice(1), ...sh.globals, ...args], { env: sh.env, stdio: ['ignore', fd, fd], timeout: 120_000 });
  } finally {
    closeSync(fd);
  }
}

function direct(rt: string, sh: Shim, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(rt, [...sh.globals, ...args], { encoding: 'utf8', timeout: 60_000 });
}

function ours(config: { hooks?: Record<string, { args?: string[] }[]>; mounts?: { destination: string }[] }) {
  const count = (stage: string) => (config.hooks?.[stage] ?? []).filter((h) => h.args?.[0] === 'agentcgroup').length;
  const mounted = (at: string) => (config.mounts ?? []).filter((m) => m.destination === at).length;
  return { createRuntime: count('createRuntime'), poststop: count('poststop'), mounts: mounted('/run/agentcgroup'), client: mounted('/run/agentcgroup/agentcgroup-exec') };
}

const ONCE = JSON.stringify({ createRuntime: 1, poststop: 1, mounts: 1, client: 1 });

async function lifecycle(c: Checker, rt: string): Promise<void> {
  const s = scratch();
  installExecClient(s);
  const id = `shim-${rt}`;
  const bundle = makeBundle(s, id, { args: ['/bin/sh', '-c', 'sleep 300'], memoryLimit: 256 * MiB, annotations: { 'io.agentcgroup.enable': 'true' }, hookStages: [] });
  const sh = shimFor(s, rt, bundle);
  const configFile = join(bundle, 'config.json');
  const pidFile = join(bundle, 'init.pid');

  const created = call(sh, ['create', '--bundle', bundle, '--pid-file', pidFile, id]);
  c.equal(created.status, 0, `${rt}: create through the shim`, readOr(sh.log));
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  c.equal(JSON.stringify(ours(config)), ONCE, `${rt}: config.json got each hook, the socket mount and the client mount once`);
  const pid = readOr(pidFile).trim();
  c.match(readOr(`/proc/${pid}/cgroup`), /^0::\/.+\/agent\n$/, `${rt}: the container's init sits in the agent leaf after create`);
  const record = readOr(join(s.runDir, 'containers', `${id}.json`));
  const C = record ? (JSON.parse(record) as { cgroup: string }).cgroup : '';
  c.ok(C !== '' && existsSync(cg(C, 'tools')), `${rt}: tools/ was made`, record);
  const sockDir = join(s.runDir, 'sock', id);
  c.ok(existsSync(sockDir), `${rt}: the exec socket directory exists`);

  const before = { text: readFileSync(configFile, 'utf8'), mtime: statSync(configFile).mtimeMs };
  c.equal(call(sh, ['start', id]).status, 0, `${rt}: start`);
  const state = direct(rt, sh, ['state', id]);
  c.equal((JSON.parse(state.stdout || '{}') as { status?: string }).status, 'running', `${rt}: running`);
  c.equal(call(sh, ['state', id]).status, 0, `${rt}: state through the shim`);
  c.equal(call(sh, ['exec', id, '/bin/sh', '-c', 'exit 0']).status, 0, `${rt}: exec through the shim`);
  const inside = direct(rt, sh, ['exec', id, '/bin/ls', '/run/agentcgroup']);
  c.equal(inside.status, 0, `${rt}: the socket directory is mounted in the container`, inside.stderr);
  // The exec client over its placeholder: it runs (no daemon here, so it says so and exits 125), and
  // the container can neither write it nor put anything beside it.
  const EXEC = '/run/agentcgroup/agentcgroup-exec';
  const client = direct(rt, sh, ['exec', id, EXEC, '--', 'true']);
  c.equal(client.status, 125, `${rt}: the exec client runs in the container (no daemon: 125)`, client.stderr);
  c.match(client.stderr, /^agentcgroup: exec: cannot reach the agentcgroup daemon at "\/run\/agentcgroup\/exec\.sock": ENOENT$/m, `${rt}: and says why in one line`, client.stderr);
  const write = direct(rt, sh, ['exec', id, '/bin/sh', '-c', `echo x > ${EXEC}`]);
  c.ok(write.status !== 0, `${rt}: the container cannot write the client`, write.stderr);
  const plant = direct(rt, sh, ['exec', id, '/bin/sh', '-c', 'echo x > /run/agentcgroup/x']);
  c.ok(plant.status !== 0, `${rt}: nor put a file beside it`, plant.stderr);

  const unknown = call(sh, ['state', 'no-such-container']);
  const unknownDirect = direct(rt, sh, ['state', 'no-such-container']);
  c.ok(unknown.status !== 0 && unknown.status === unknownDirect.status, `${rt}: a failing call's exit code passes through`, { shim: unknown.status, direct: unknownDirect.status });

  c.equal(call(sh, ['kill', id, 'KILL']).status, 0, `${rt}: kill KILL`);
  const stopped = await eventually(() => (JSON.parse(direct(rt, sh, ['state', id]).stdout || '{}') as { status?: string }).status === 'stopped');
  c.ok(stopped, `${rt}: stopped`);
  c.equal(call(sh, ['delete', id]).status, 0, `${rt}: delete`);
  c.ok(C !== '' && !existsSync(cg(C)), `${rt}: the container cgroup is gone`);
  c.ok(!existsSync(join(s.runDir, 'containers', `${id}.json`)), `${rt}: poststop removed our record`);
  c.ok(!existsSync(sockDir), `${rt}: delete removed the socket directory`);
  const after = { text: readFileSync(configFile, 'utf8'), mtime: statSync(configFile).mtimeMs };
  c.ok(after.text === before.text && after.mtime === before.mtime, `${rt}: start, state, kill and delete did not touch config.json`);

  if (rt === 'runc') {
    const runs = binaryRuns(s);
    c.ok(runs.length === 1 && onlyCreates(runs), 'runc: the front started the binary for create alone; start, state, exec, kill and delete went to runc by exec', runs);
  }
  // A retried create (containerd retries after a failure) adds nothing.
  c.equal(call(sh, ['create', '--bundle', bundle, '--pid-file', pidFile, id]).status, 0, `${rt}: create again`);
  c.equal(JSON.stringify(ours(JSON.parse(readFileSync(configFile, 'utf8')))), ONCE, `${rt}: still once each`);
  c.equal(call(sh, ['delete', '--force', id]).status, 0, `${rt}: delete --force`);
  c.ok(!existsSync(cg(C)) && !existsSync(sockDir), `${rt}: nothing of ours left`);
}

/** A foreground `run`: SIGTERM to the shim reaches the container's init, whose exit code comes back. */
async function signalled(c: Checker, rt: string): Promise<void> {
  const s = scratch();
  const id = `shim-run-${rt}`;
  const out = join(s.dir, 'out');
  mkdirSync(out);
  const script = 'trap "echo TERM > /out/sig; exit 3" TERM; echo up > /out/up; while :; do sleep 1; done';
  const bundle = makeBundle(s, id, { args: ['/bin/sh', '-c', script], annotations: { 'io.agentcgroup.enable': 'true' }, hookStages: [], binds: [{ source: out, destination: '/out' }] });
  const sh = shimFor(s, rt, bundle);
  const fd = openSync(sh.log, 'a');
  const child = spawn(sh.argv[0]!, [...sh.argv.slice(1), ...sh.globals, 'run', '--bundle', bundle, id], { env: sh.env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const ended = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const up = await eventually(() => existsSync(join(out, 'up')), 60_000);
  c.ok(up, `${rt}: run through the shim started the container`, readOr(sh.log));
  const C = JSON.parse(readOr(join(s.runDir, 'containers', `${id}.json`), '{}')).cgroup as string | undefined;
  child.kill('SIGTERM');
  c.equal(await ended, 3, `${rt}: SIGTERM to the shim reached the container, its exit code came back`, readOr(sh.log));
  c.equal(readOr(join(out, 'sig')), 'TERM\n', `${rt}: the container's trap ran`);
  c.ok(C !== undefined && !existsSync(cg(C)), `${rt}: the run's cgroup is gone`);
  c.ok(!existsSync(join(s.runDir, 'sock', id)) && !existsSync(join(s.runDir, 'containers', `${id}.json`)), `${rt}: no record or socket directory left`);
}

scenario(async (c) => {
  for (const rt of ['runc', 'crun']) {
    await lifecycle(c, rt);
    await signalled(c, rt);
  }
});
