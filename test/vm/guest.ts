/**
 * Boots the test guest (Debian's kernel under qemu TCG, host root shared read-only, the checkout
 * writable at its own path) and runs one shell script inside it. `prepare.sh` must have run first.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Which kernel a guest boots, as prepare.sh reads AGENTCGROUP_VM_KERNEL: `host` is the host's own
 * Debian kernel (6.1 on Debian 12), a suite name (`sid`: 7.2) that suite's kernel with that suite's
 * engines, each prepared into its own cache. The variable picks the default for `npm run vm`.
 */
export const VM_KERNEL = process.env.AGENTCGROUP_VM_KERNEL || 'host';
/** The cache prepare.sh fills for that kernel: AGENTCGROUP_VM_CACHE (default below), with `-SUITE` for a suite's. */
export function vmCache(kernel: string = VM_KERNEL): string {
  const base = process.env.AGENTCGROUP_VM_CACHE || '/var/cache/agentcgroup-vm';
  return kernel === 'host' ? base : `${base}-${kernel}`;
}
/** The checkout this file belongs to (found upward, so the same code works from a bundle in build/). */
export const CHECKOUT = findCheckout(dirname(fileURLToPath(import.meta.url)));

function findCheckout(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test/vm/prepare.sh'))) return dir;
  }
  throw new Error(`no agentcgroup checkout above ${from}`);
}

export interface GuestOptions {
  /** Shell script run by /bin/sh inside the guest, in the checkout directory. */
  script: string;
  /** Wall-clock limit for boot, script and power-off. */
  timeoutMs?: number;
  memoryMb?: number;
  cpus?: number;
  /** Keep the exchange directory (for reading files the script left in $AGENTCGROUP_XFER). */
  keep?: boolean;
  /**
   * Called with the exchange directory once it exists and before the guest boots, so a caller can
   * watch what the script leaves in $AGENTCGROUP_XFER while it still runs.
   */
  onStart?: (xfer: string) => void;
  /** `host` or a suite name (see VM_KERNEL); VM_KERNEL when not given. */
  kernel?: string;
}

export interface GuestResult {
  /** The script's exit code; undefined when the guest never reported one. */
  code: number | undefined;
  stdout: string;
  stderr: string;
  /** The serial console: kernel messages and init's own lines. */
  console: string;
  /** Set when the guest did not finish: timed out, failed to boot, or qemu failed. */
  error?: string;
  xfer: string;
  elapsedMs: number;
}

function readIf(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

// Paths go on the kernel command line and into 9p mount options, split on white space and commas.
function checkPath(what: string, path: string): void {
  if (!/^\/[A-Za-z0-9._/-]*$/.test(path)) throw new Error(`${what} path ${JSON.stringify(path)} has characters the guest cannot mount`);
}

export function missingPrerequisites(kernel: string = VM_KERNEL): string | undefined {
  const cache = vmCache(kernel);
  for (const f of ['vmlinux', 'initrd.gz', 'modules', 'stamp']) {
    if (!existsSync(join(cache, f))) {
      const env = kernel === 'host' ? '' : `AGENTCGROUP_VM_KERNEL=${kernel} `;
      return `test guest not prepared (${join(cache, f)} missing): run ${env}npm run vm:prepare`;
    }
  }
  return undefined;
}

/**
 * What a guest that died says of it: the first kernel error with what follows it (a panic's tail shows
 * only its last oops; the first one names the cause), the console's tail, and the whole console kept
 * in a file.
 */
function consoleReport(text: string): string {
  const lines = text.split('\n');
  const file = join(tmpdir(), `agentcgroup-guest-console-${Date.now()}.log`);
  writeFileSync(file, text);
  const first = lines.findIndex((l) => /\] (BUG|Oops|WARNING|general protection|Kernel panic|Unable to handle)/.test(l));
  const error = first < 0 ? '' : `first kernel error:\n${lines.slice(first, first + 40).join('\n')}\n`;
  return `${error}console tail:\n${lines.slice(-15).join('\n')}\n(whole console: ${file})`;
}

export async function runInGuest(opts: GuestOptions): Promise<GuestResult> {
  const started = Date.now();
  const xfer = mkdtempSync(join(tmpdir(), 'agentcgroup-guest-'));
  const finish = (partial: Omit<GuestResult, 'stdout' | 'stderr' | 'xfer' | 'elapsedMs' | 'code'>): GuestResult => {
    const rc = readIf(join(xfer, 'rc')).trim();
    const result: GuestResult = {
      ...partial,
      code: rc === '' ? undefined : Number(rc),
      stdout: readIf(join(xfer, 'stdout')),
      stderr: readIf(join(xfer, 'stderr')),
      xfer,
      elapsedMs: Date.now() - started,
    };
    if (result.code === undefined && result.error === undefined) {
      result.error = `guest finished without running the script; ${consoleReport(partial.console)}`;
    }
    if (!opts.keep) rmSync(xfer, { recursive: true, force: true });
    return result;
  };
  const kernel = opts.kernel ?? VM_KERNEL;
  const cache = vmCache(kernel);
  const missing = missingPrerequisites(kernel);
  if (missing) return finish({ console: '', error: missing });
  checkPath('checkout', CHECKOUT);
  checkPath('exchange', xfer);
  writeFileSync(join(xfer, 'cmd'), `export AGENTCGROUP_XFER=${xfer}\n${opts.script}\n`);
  opts.onStart?.(xfer);

  const virtfs = (path: string, tag: string, ro: boolean) =>
    ['-virtfs', `local,path=${path},mount_tag=${tag},security_model=none,multidevs=remap${ro ? ',readonly=on' : ''}`];
  // Another suite's guest carries that suite's engines, which its init lays over /usr.
  const engines = join(cache, 'engines');
  const withEngines = existsSync(join(engines, 'stamp'));
  const args = [
    '-accel', 'tcg', '-cpu', 'max', '-smp', String(opts.cpus ?? 2), '-m', String(opts.memoryMb ?? 2048),
    '-nographic', '-no-reboot', '-nic', 'none',
    '-kernel', join(cache, 'vmlinux'), '-initrd', join(cache, 'initrd.gz'),
    '-append', `console=ttyS0 quiet panic=-1 agentcg.xfer=${xfer} agentcg.work=${CHECKOUT}${withEngines ? ' agentcg.engines=1' : ''}`,
    ...virtfs('/', 'hostroot', true),
    ...virtfs(join(cache, 'modules'), 'modules', true),
    ...(withEngines ? virtfs(engines, 'engines', true) : []),
    ...virtfs(CHECKOUT, 'work', false),
    ...virtfs(xfer, 'xfer', false),
  ];
  const timeoutMs = opts.timeoutMs ?? 300_000;
  return new Promise((done) => {
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let consoleText = '';
    qemu.stdout.on('data', (d: Buffer) => (consoleText += d.toString()));
    qemu.stderr.on('data', (d: Buffer) => (consoleText += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, timeoutMs);
    qemu.on('error', (err) => {
      clearTimeout(timer);
      done(finish({ console: consoleText, error: `cannot start qemu-system-x86_64: ${err.message}` }));
    });
    qemu.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) done(finish({ console: consoleText, error: `guest timed out after ${Math.round(timeoutMs / 1000)} s and was stopped` }));
      else if (code !== 0) done(finish({ console: consoleText, error: `qemu exited with ${code}: ${consoleText.split('\n').slice(-5).join(' | ')}` }));
      else done(finish({ console: consoleText }));
    });
  });
}
