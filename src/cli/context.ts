import { fstatSync } from 'node:fs';
import type { FsOps } from '../cgroup/cgroupfs.js';
import type { FdIdentity } from '../sys/journal.js';

/** What a command may touch besides its arguments; tests pass their own. */
export interface CliContext {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  uid: number;
  /** All of stdin as text (hooks get the OCI state there). */
  readStdin: () => Promise<string>;
  /** Unit tests only: a simulated cgroupfs in place of the real one. */
  fsOps?: FsOps;
  /** Device and inode of one of our fds (is stderr the journal?); unset in tests: not the journal. */
  fdIdentity?: FdIdentity;
}

// A state is a few KB; refuse to buffer without bound whatever a misconfigured caller pipes in. The
// native hook front (src/hook/native/) reads up to the same bound before it hands stdin on.
export const STDIN_LIMIT = 1 << 20;

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > STDIN_LIMIT) throw new Error(`more than ${STDIN_LIMIT} bytes on stdin`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function processContext(): CliContext {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    uid: process.geteuid?.() ?? -1,
    readStdin: readAllStdin,
    fdIdentity: (fd) => {
      try {
        const st = fstatSync(fd, { bigint: true });
        return { dev: st.dev, ino: st.ino };
      } catch {
        return undefined;
      }
    },
  };
}
