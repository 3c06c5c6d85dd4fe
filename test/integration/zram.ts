/**
 * One compressed swap device in the guest's RAM, for what needs swap on a real kernel: the reclaim
 * rung's scenario and the replay benchmark. Guest only: it loads modules and turns swap on.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../../src/errors.js';
import { readOr } from './bundle.js';

/** The algorithm a zram device compresses with: the bracketed entry of comp_algorithm ("lzo [lz4] zstd"). */
export const zramAlgorithm = (text: string): string => /\[([^\]\s]+)\]/.exec(text)?.[1] ?? 'unknown';

/** zram's compressors to ask for, fastest first (the guest's CPU is emulated); else the kernel's default. */
export const ZRAM_ALGORITHMS = ['lz4', 'zstd'] as const;

export interface Zram {
  device: string;
  algorithm: string;
}

/** The guest's kernel modules: the host root it runs on has none for this kernel (test/vm/init.sh). */
export function modprobe(mod: string): SpawnSyncReturns<string> {
  const root = process.env.AGENTCGROUP_VM_MODROOT;
  return spawnSync('modprobe', [...(root ? ['-d', root] : []), mod], { encoding: 'utf8' });
}

const ZRAM = '/sys/block/zram0';

/**
 * /dev/zram0 of `bytes` (uncompressed) as the guest's swap. Throws one line naming the step that
 * failed, with what was set up undone.
 */
export function zramOn(bytes: number): Zram {
  const fail = (what: string, detail: string | undefined): never => {
    zramOff();
    throw new Error(`zram swap: ${what} failed${detail ? `: ${detail.trim().split('\n')[0]}` : ''}`);
  };
  const run = (what: string, r: SpawnSyncReturns<string>) => r.status === 0 || fail(what, r.stderr || r.stdout || r.error?.message);
  run('modprobe zram', modprobe('zram'));
  if (!existsSync(ZRAM)) fail(`finding ${ZRAM}`, 'no such device after modprobe zram');
  if (readOr(join(ZRAM, 'disksize')).trim() !== '0') throw new Error('zram swap: /dev/zram0 is in use already');
  for (const algorithm of ZRAM_ALGORITHMS) {
    // 6.1's compressors are modules of their own, which the kernel cannot load from the guest's module tree.
    modprobe(algorithm);
    try {
      writeFileSync(join(ZRAM, 'comp_algorithm'), algorithm);
      break;
    } catch {
      // Not in this kernel: the next, else the kernel's default.
    }
  }
  try {
    writeFileSync(join(ZRAM, 'disksize'), String(bytes));
  } catch (err) {
    fail(`setting its size to ${bytes} bytes`, describeError(err));
  }
  run('mkswap /dev/zram0', spawnSync('/sbin/mkswap', ['/dev/zram0'], { encoding: 'utf8' }));
  run('swapon /dev/zram0', spawnSync('/sbin/swapon', ['/dev/zram0'], { encoding: 'utf8' }));
  return { device: '/dev/zram0', algorithm: zramAlgorithm(readOr(join(ZRAM, 'comp_algorithm'))) };
}

/** Swap off and the device emptied; best effort, as the guest powers off after the run anyway. */
export function zramOff(): void {
  spawnSync('/sbin/swapoff', ['/dev/zram0'], { encoding: 'utf8' });
  try {
    writeFileSync(join(ZRAM, 'reset'), '1');
  } catch {
    // Not set up, or still busy: nothing here outlives the guest.
  }
}
