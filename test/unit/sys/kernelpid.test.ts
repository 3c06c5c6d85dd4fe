// The daemon names itself to the sched_ext scheduler by pid: only a pid of the host's (initial) pid
// namespace means the same process to BPF; in any other namespace it must refuse, not guess.
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { INIT_PID_NS, kernelPid } from '../../../src/sys/kernelpid.js';

function proc(ns: string | undefined): string {
  const root = mkdtempSync(join(tmpdir(), 'kpid-'));
  mkdirSync(join(root, 'self/ns'), { recursive: true });
  if (ns !== undefined) symlinkSync(ns, join(root, 'self/ns/pid'));
  return root;
}

t.test("the host's pid namespace: our pid is the kernel's", async (t) => {
  t.equal(kernelPid(proc(INIT_PID_NS), 1234), 1234);
});

t.test('another pid namespace, or none readable: one line, no pid', async (t) => {
  t.throws(() => kernelPid(proc('pid:[4026532201]'), 7), /^this process runs in a pid namespace of its own \(pid:\[4026532201\]\), not the host's: .*hostPID/);
  t.throws(() => kernelPid(proc(undefined), 7), /cannot read our pid namespace \(.*\/self\/ns\/pid\): ENOENT/);
});

t.test('this machine: the real /proc answers one way or the other', async (t) => {
  let got: number | Error;
  try {
    got = kernelPid();
  } catch (err) {
    got = err as Error;
  }
  if (typeof got === 'number') t.equal(got, process.pid);
  else t.match(got.message, /pid namespace/);
});
