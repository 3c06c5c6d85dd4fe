import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statSync, watch, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentcgroupError } from '../errors.js';
import { parseControllerList } from './mountinfo.js';

/** Something to stop: a watch on a file. */
export interface Closable {
  close(): void;
}

/**
 * The one place that reads and writes cgroupfs. Cgroups are named by their path relative to the
 * root (`''` is the root itself), so tests point the root at a temp directory. Kernel errors come
 * back as sentences naming the cgroup, the file and what the errno means there.
 */
/**
 * The kernel operations cgroupfs needs: the real ones, or a simulated kernel in unit tests. SIGKILL is
 * among them because the pids it takes come from this kernel's cgroup.procs: a simulated cgroup tree
 * can then never be paired with real kills.
 */
export interface FsOps {
  readFile(path: string): string;
  /** Writes an existing file; a missing one is ENOENT, never created. */
  writeFile(path: string, data: string): void;
  /**
   * The same write off the event loop (libuv's thread pool): for a write the kernel may take seconds
   * over, memory.reclaim, which must not stop the daemon meanwhile.
   */
  writeFileAsync(path: string, data: string): Promise<void>;
  mkdir(path: string): void;
  rmdir(path: string): void;
  isDir(path: string): boolean;
  /** Names of the subdirectories (child cgroups). */
  subdirs(path: string): string[];
  /** Calls `onChange` after the file changes (inotify: the kernel notifies cgroup.events changes), `onError` if the watch breaks. */
  watch(path: string, onChange: () => void, onError: (err: unknown) => void): Closable;
  /** Sends SIGKILL to a process by the pid cgroup.procs gave. */
  kill(pid: number): void;
}

// Not 'w': its O_CREAT makes open(2) of a missing cgroupfs file fail with EACCES (kernfs cannot create
// files), which reads as a permission problem. Without it a missing file (a controller not enabled,
// cgroup.kill before Linux 5.14) is ENOENT, and says so.
const WRITE_EXISTING = constants.O_WRONLY | constants.O_TRUNC;

export const realFsOps: FsOps = {
  readFile: (p) => readFileSync(p, 'utf8'),
  writeFile: (p, d) => {
    const fd = openSync(p, WRITE_EXISTING);
    try {
      writeSync(fd, d);
    } finally {
      closeSync(fd);
    }
  },
  writeFileAsync: async (p, d) => {
    const fh = await open(p, WRITE_EXISTING);
    try {
      await fh.write(d);
    } finally {
      await fh.close();
    }
  },
  mkdir: (p) => mkdirSync(p),
  rmdir: (p) => rmdirSync(p),
  isDir: (p) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  },
  subdirs: (p) =>
    readdirSync(p, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
  watch: (p, onChange, onError) => watch(p, () => onChange()).on('error', onError),
  kill: (pid) => process.kill(pid, 'SIGKILL'),
};

export class Cgroupfs {
  constructor(
    readonly root: string,
    private readonly ops: FsOps = realFsOps,
  ) {}

  path(cgroup: string, file?: string): string {
    return file === undefined ? join(this.root, cgroup) : join(this.root, cgroup, file);
  }

  read(cgroup: string, file: string): string {
    try {
      return this.ops.readFile(this.path(cgroup, file));
    } catch (err) {
      throw this.explain(err, 'read', cgroup, file);
    }
  }

  write(cgroup: string, file: string, value: string): void {
    try {
      // One write() per value: cgroupfs parses each write on its own.
      this.ops.writeFile(this.path(cgroup, file), value);
    } catch (err) {
      throw this.explain(err, `write ${JSON.stringify(value)} to`, cgroup, file);
    }
  }

  /** write() off the event loop; the error is the same sentence, the promise rejects with it. */
  async writeAsync(cgroup: string, file: string, value: string): Promise<void> {
    try {
      await this.ops.writeFileAsync(this.path(cgroup, file), value);
    } catch (err) {
      throw this.explain(err, `write ${JSON.stringify(value)} to`, cgroup, file);
    }
  }

  exists(cgroup: string): boolean {
    return this.ops.isDir(this.path(cgroup));
  }

  /** Whether the cgroup has the file: one of a kernel version or option (memory.swap.max, memory.reclaim). */
  hasFile(cgroup: string, file: string): boolean {
    try {
      this.read(cgroup, file);
      return true;
    } catch (err) {
      if (err instanceof AgentcgroupError && err.code === 'cgroup-enoent') return false;
      throw err;
    }
  }

  /** `err` says a file of the cgroup is missing while the cgroup is there: the kernel lacks the file. */
  lacksFile(cgroup: string, err: unknown): boolean {
    return err instanceof AgentcgroupError && err.code === 'cgroup-enoent' && this.exists(cgroup);
  }

  create(cgroup: string): void {
    try {
      this.ops.mkdir(this.path(cgroup));
    } catch (err) {
      throw this.explain(err, 'create', cgroup);
    }
  }

  remove(cgroup: string): void {
    try {
      this.ops.rmdir(this.path(cgroup));
    } catch (err) {
      throw this.explain(err, 'remove', cgroup);
    }
  }

  children(cgroup: string): string[] {
    try {
      return this.ops.subdirs(this.path(cgroup));
    } catch (err) {
      throw this.explain(err, 'list', cgroup);
    }
  }

  controllers(cgroup: string): string[] {
    return parseControllerList(this.read(cgroup, 'cgroup.controllers'));
  }

  subtreeControl(cgroup: string): string[] {
    return parseControllerList(this.read(cgroup, 'cgroup.subtree_control'));
  }

  /** Enables controllers for the children of `cgroup`; already-enabled ones are left alone. */
  enableControllers(cgroup: string, controllers: readonly string[]): void {
    const have = new Set(this.subtreeControl(cgroup));
    const want = controllers.filter((c) => !have.has(c));
    if (want.length > 0) this.write(cgroup, 'cgroup.subtree_control', want.map((c) => `+${c}`).join(' '));
  }

  procs(cgroup: string): number[] {
    return this.read(cgroup, 'cgroup.procs')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  }

  movePid(cgroup: string, pid: number): void {
    this.write(cgroup, 'cgroup.procs', String(pid));
  }

  /** Watches one of a cgroup's files for changes; a cgroup that is gone is cgroup-enoent. */
  watch(cgroup: string, file: string, onChange: () => void, onError: (err: unknown) => void): Closable {
    try {
      return this.ops.watch(this.path(cgroup, file), onChange, (err) => onError(this.explain(err, 'watch', cgroup, file)));
    } catch (err) {
      throw this.explain(err, 'watch', cgroup, file);
    }
  }

  /** SIGKILL to a process cgroup.procs listed; one that has exited since is no error. */
  sigkill(pid: number): void {
    // kill(2) reads 0 as our own process group and -1 as every process we may signal.
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new AgentcgroupError('bad-pid', `refusing to signal pid ${pid}: not a single process`);
    try {
      this.ops.kill(pid);
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).code;
      if (errno === 'ESRCH') return;
      throw new AgentcgroupError(`kill-${(errno ?? 'EUNKNOWN').toLowerCase()}`, `cannot kill process ${pid}: ${errno ?? String(err)}`, { cause: err });
    }
  }

  private explain(err: unknown, verb: string, cgroup: string, file?: string): AgentcgroupError {
    const errno = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    const where = file === undefined ? `cgroup ${this.path(cgroup)}` : `${this.path(cgroup, file)}`;
    const hints: Record<string, string> = {
      ENOENT: file === undefined ? 'it does not exist' : 'no such file (is the controller enabled in the parent?)',
      EACCES: 'permission denied (agentcgroup must run as root)',
      EPERM: 'not permitted (root is required; cgroupfs may be read-only in a container)',
      EROFS: 'cgroupfs is mounted read-only here',
      EBUSY: file === 'cgroup.subtree_control' ? 'the cgroup has processes of its own (no internal processes rule)' : 'the cgroup is busy (it still has processes or children)',
      EOPNOTSUPP: 'the kernel does not support this here',
      EINVAL: 'the kernel rejected the value',
      EEXIST: 'it already exists',
      // From mkdir: the parent or one above it is at its cgroup.max.descendants (or max.depth).
      EAGAIN: file === undefined ? 'too many cgroups below its parent (cgroup.max.descendants reached)' : 'the kernel asked to try again',
    };
    return new AgentcgroupError(`cgroup-${errno.toLowerCase()}`, `cannot ${verb} ${where}: ${hints[errno] ?? errno}`, { cause: err });
  }
}
