import type { Cgroupfs } from '../cgroup/cgroupfs.js';
import { setFrozen } from '../cgroup/lifecycle.js';
import { AgentcgroupError, describeError } from '../errors.js';
import type { Step } from './plan.js';

type Undo = () => void;

// A fork between reading cgroup.procs and enabling controllers makes the enable fail with EBUSY:
// move the newcomers and try again, a few times.
const ENABLE_ATTEMPTS = 5;

function moveAll(fs: Cgroupfs, from: string, to: string, moved: number[]): void {
  for (const pid of fs.procs(from)) {
    try {
      fs.movePid(to, pid);
      moved.push(pid);
    } catch (err) {
      // A process that exited between the read and the move is not an error.
      if (!(err instanceof AgentcgroupError && err.code === 'cgroup-esrch')) throw err;
    }
  }
}

/** Performs one step and returns how to take it back. */
function perform(fs: Cgroupfs, step: Step, followers: Map<string, string>): Undo {
  switch (step.op) {
    case 'freeze': {
      const thaw = () => setFrozen(fs, step.cgroup, false);
      try {
        setFrozen(fs, step.cgroup, true);
      } catch (err) {
        // cgroup.freeze may be written though `frozen 1` never showed (a timeout, an unreadable
        // cgroup.events): thaw anyway, or the container stays frozen for good.
        try {
          thaw();
        } catch (thawErr) {
          throw new AgentcgroupError('thaw-failed', `${describeError(err)}; thaw also failed: ${describeError(thawErr)}`, { cause: err });
        }
        throw err;
      }
      return thaw;
    }
    case 'mkdir':
      fs.create(step.cgroup);
      return () => fs.remove(step.cgroup);
    case 'move-all': {
      const moved: number[] = [];
      followers.set(step.from, step.to);
      moveAll(fs, step.from, step.to, moved);
      return () => {
        for (const pid of fs.procs(step.to)) fs.movePid(step.from, pid);
      };
    }
    case 'enable': {
      const before = new Set(fs.subtreeControl(step.cgroup));
      const added = step.controllers.filter((c) => !before.has(c));
      for (let attempt = 1; ; attempt++) {
        try {
          fs.enableControllers(step.cgroup, step.controllers);
          break;
        } catch (err) {
          const target = followers.get(step.cgroup);
          if (!(err instanceof AgentcgroupError && err.code === 'cgroup-ebusy') || !target || attempt >= ENABLE_ATTEMPTS) throw err;
          moveAll(fs, step.cgroup, target, []);
        }
      }
      return () => {
        if (added.length > 0) fs.write(step.cgroup, 'cgroup.subtree_control', added.map((c) => `-${c}`).join(' '));
      };
    }
    case 'write': {
      const old = fs.read(step.cgroup, step.file).trim();
      fs.write(step.cgroup, step.file, step.value);
      return () => fs.write(step.cgroup, step.file, old);
    }
  }
}

/**
 * Applies the steps in order. If one fails, everything done so far is undone in reverse, so the
 * container is never left half-carved; the error then says what failed and whether undo was clean.
 * A freeze step is always undone at the end, success or not.
 */
export function applySteps(fs: Cgroupfs, steps: readonly Step[]): void {
  const undo: Undo[] = [];
  const thaw: Undo[] = [];
  const followers = new Map<string, string>();
  try {
    for (const step of steps) {
      const u = perform(fs, step, followers);
      (step.op === 'freeze' ? thaw : undo).push(u);
    }
  } catch (err) {
    const failures: string[] = [];
    for (const u of [...undo].reverse()) {
      try {
        u();
      } catch (undoErr) {
        failures.push(describeError(undoErr));
      }
    }
    runAll(thaw, failures);
    const tail = failures.length > 0 ? `; undo also failed: ${failures.join('; ')}` : '';
    throw new AgentcgroupError(err instanceof AgentcgroupError ? err.code : 'carve-failed', `${describeError(err)}${tail}`, { cause: err });
  }
  const failures: string[] = [];
  runAll(thaw, failures);
  if (failures.length > 0) throw new AgentcgroupError('thaw-failed', failures.join('; '));
}

function runAll(fns: Undo[], failures: string[]): void {
  for (const f of fns) {
    try {
      f();
    } catch (err) {
      failures.push(describeError(err));
    }
  }
}
