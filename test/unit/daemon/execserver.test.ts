// Who may begin a tool call over the exec socket: only a process of the agent leaf, never the
// container's init or the last process there (an empty agent leaf is the container's end to us),
// never a process inside a call (it would escape that call's freeze and kill).
import t from 'tap';
import { admitBegin } from '../../../src/daemon/execserver.js';
import type { ContainerRecord } from '../../../src/state/records.js';

const c = { record: { id: 'c1', cgroup: 'pod/c1', pid: 10 } as ContainerRecord };
const peer = (pid: number, cgroup: string | undefined, ownCall?: string) => ({ pid, cgroup, ownCall });

t.test('a process of the agent leaf with company there starts a new call', async (t) => {
  t.same(admitBegin(c, peer(20, '/pod/c1/agent'), [10, 20]), { kind: 'new' });
});

t.test("the client the tracker already made a call keeps that call (no move, no escape)", async (t) => {
  t.same(admitBegin(c, peer(20, '/pod/c1/tools/make-1', 'make-1'), [10]), { kind: 'adopt', callId: 'make-1' });
});

t.test('refused: inside another call, the init, the last of the agent leaf, outside the container', async (t) => {
  t.match(admitBegin(c, peer(21, '/pod/c1/tools/make-1'), [10]), { kind: 'refuse', why: /not in the agent leaf/ });
  t.match(admitBegin(c, peer(10, '/pod/c1/agent'), [10, 20]), { kind: 'refuse', why: /init/ });
  t.match(admitBegin(c, peer(20, '/pod/c1/agent'), [20]), { kind: 'refuse', why: /last process/ });
  t.match(admitBegin(c, peer(20, '/pod/c1/agent/x'), [10, 20]), { kind: 'refuse' });
  t.match(admitBegin(c, peer(20, undefined), [10, 20]), { kind: 'refuse' });
});
