import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { AgentcgroupError, describeError } from '../errors.js';
import { type DaemonSnapshot, parseSnapshot } from '../metrics/snapshot.js';
import { renderTop } from '../metrics/top.js';
import { adminSocketFor, askDaemon } from './admin.js';
import type { CliContext } from './context.js';

/** What `top` needs of the terminal; tests pass their own. */
export interface Terminal {
  isTTY: boolean;
  size(): { columns?: number; rows?: number };
  /** Calls `stop` on SIGINT or SIGTERM until the returned function is called. */
  onInterrupt(stop: () => void): () => void;
}

export function processTerminal(): Terminal {
  return {
    isTTY: process.stdout.isTTY === true,
    size: () => ({ columns: process.stdout.columns, rows: process.stdout.rows }),
    onInterrupt: (stop) => {
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      return () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      };
    },
  };
}

// Cursor home, clear to end of line / of screen, hide and show the cursor.
const HOME = '\x1b[H';
const EOL = '\x1b[K';
const EOS = '\x1b[J';
const HIDE = '\x1b[?25l';
const SHOW = '\x1b[?25h';

export interface TopOptions {
  intervalMs: number;
  /** Frames to show; undefined: until interrupted. */
  frames: number | undefined;
  /** Plain text, no escape codes, whatever stdout is. */
  plain: boolean;
}

/**
 * The refresh loop. On a terminal each frame is drawn over the last (cursor home, each line cleared
 * to its end, the rest of the screen cleared) and the cursor comes back however the loop ends;
 * otherwise frames follow one another, a blank line apart, like `top -b`.
 */
export async function runTop(fetch: () => Promise<DaemonSnapshot>, write: (text: string) => void, term: Terminal, opts: TopOptions): Promise<void> {
  const stopper = new AbortController();
  const release = term.onInterrupt(() => stopper.abort());
  const live = term.isTTY && !opts.plain;
  let drawn = false;
  try {
    for (let n = 0; opts.frames === undefined || n < opts.frames; n++) {
      const snap = await fetch();
      if (stopper.signal.aborted) break;
      if (live) {
        const { columns, rows } = term.size();
        // One row short of the screen: the line feed after a full screen would scroll the title away.
        const lines = renderTop(snap, { ...(columns === undefined ? {} : { columns }), ...(rows === undefined ? {} : { rows: Math.max(2, rows - 1) }), note: `every ${opts.intervalMs / 1000}s, Ctrl-C quits` });
        write(`${drawn ? '' : HIDE}${HOME}${lines.map((l) => `${l}${EOL}`).join('\n')}\n${EOS}`);
        drawn = true;
      } else {
        write(`${n > 0 ? '\n' : ''}${renderTop(snap).join('\n')}\n`);
      }
      if (opts.frames !== undefined && n + 1 >= opts.frames) break;
      await delay(opts.intervalMs, undefined, { signal: stopper.signal }).catch(() => undefined);
      if (stopper.signal.aborted) break;
    }
  } finally {
    release();
    if (drawn) write(SHOW);
  }
}

function positive(flag: string, text: string, integer: boolean, max: number): number {
  const n = Number(text);
  const ok = text.trim() !== '' && Number.isFinite(n) && n > 0 && n <= max && (!integer || Number.isInteger(n));
  if (!ok) throw new AgentcgroupError('bad-args', `${flag} must be ${integer ? 'a whole number' : 'a number'} above 0 and at most ${max}, got ${JSON.stringify(text)}`);
  return n;
}

export function registerTop(program: Command, ctx: CliContext, setExit: (code: number) => void, term: Terminal = processTerminal()): void {
  program
    .command('top')
    .description(
      'a live view of the daemon\'s containers, their agent leaf and tool calls: memory current, high, max and peak, pressure (memory.pressure avg10 some/full), state (running, throttled, frozen), memory.high events, OOM kills and what the graduated response did (froze/thawed/raised/killed). On a terminal it redraws in place every --interval until Ctrl-C; when stdout is not a terminal it prints one frame per interval, a blank line apart, without escape codes. Exit 1 when the daemon is not reachable',
    )
    .option('--once', 'print one frame, without escape codes, and exit (for scripts and tests)')
    .option('--interval <seconds>', 'time between refreshes', '1')
    .option('-n, --frames <count>', 'stop after this many frames')
    .option('--policy <file>', 'host policy YAML, for the run directory (default /etc/agentcgroup/policy.yaml if present)')
    .action(async (opts: { once?: boolean; interval: string; frames?: string; policy?: string }) => {
      try {
        const intervalMs = Math.round(positive('--interval', opts.interval, false, 3600) * 1000);
        const frames = opts.once ? 1 : opts.frames === undefined ? undefined : positive('--frames', opts.frames, true, 1e9);
        const socket = adminSocketFor(ctx, opts.policy);
        await runTop(async () => parseSnapshot(await askDaemon(socket, 'snapshot')), ctx.stdout, term, { intervalMs, frames, plain: opts.once === true });
      } catch (err) {
        ctx.stderr(`agentcgroup: top: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
