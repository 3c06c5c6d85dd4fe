// Syslog priority prefixes on the daemon's stderr: only when stderr is the stream $JOURNAL_STREAM names.
import t from 'tap';
import { main } from '../../../src/cli/main.js';
import type { CliContext } from '../../../src/cli/context.js';
import { parseJournalStream, stderrIsJournal, withPriority } from '../../../src/sys/journal.js';

const same = () => ({ dev: 25n, ino: 48213n });

t.test('JOURNAL_STREAM is DEVICE:INODE in decimal', async (t) => {
  t.same(parseJournalStream('25:48213'), { dev: 25n, ino: 48213n });
  for (const bad of [undefined, '', '25', '25:', ':1', '25:48213:1', 'a:b', ' 25:1']) t.equal(parseJournalStream(bad), undefined, String(bad));
});

t.test('stderr is the journal only when its device and inode match', async (t) => {
  t.equal(stderrIsJournal({ JOURNAL_STREAM: '25:48213' }, same), true);
  t.equal(stderrIsJournal({ JOURNAL_STREAM: '25:48213' }, () => ({ dev: 25n, ino: 1n })), false, 'redirected to a file since: inherited variable');
  t.equal(stderrIsJournal({ JOURNAL_STREAM: '25:48213' }, () => undefined), false, 'fstat failed');
  t.equal(stderrIsJournal({ JOURNAL_STREAM: '25:48213' }, undefined), false, 'no seam: a test, a terminal');
  t.equal(stderrIsJournal({}, same), false, 'no variable: a terminal or a file');
  t.equal(stderrIsJournal({ JOURNAL_STREAM: 'junk' }, same), false);
});

t.test('each line gets its priority; off, text is untouched', async (t) => {
  t.equal(withPriority('agentcgroup: warning: x\n', 'warning', true), '<4>agentcgroup: warning: x\n');
  t.equal(withPriority('a\nb\n', 'error', true), '<3>a\n<3>b\n');
  t.equal(withPriority('ready\n', 'info', true), '<6>ready\n');
  t.equal(withPriority('a\n\nb', 'info', true), '<6>a\n\n<6>b', 'an empty line stays empty');
  t.equal(withPriority('agentcgroup: warning: x\n', 'warning', false), 'agentcgroup: warning: x\n');
});

async function daemonAsNonRoot(env: NodeJS.ProcessEnv, fdIdentity?: CliContext['fdIdentity']) {
  let err = '';
  const ctx: CliContext = { stdout: () => {}, stderr: (s) => (err += s), env, uid: 1000, readStdin: async () => '' };
  if (fdIdentity) ctx.fdIdentity = fdIdentity;
  const code = await main(['daemon'], ctx);
  return { code, err };
}

t.test("the daemon's error line carries <3> in the journal, nothing on a terminal", async (t) => {
  const inJournal = await daemonAsNonRoot({ JOURNAL_STREAM: '25:48213' }, same);
  t.equal(inJournal.code, 1);
  t.equal(inJournal.err, '<3>agentcgroup: daemon: must run as root (it moves processes between cgroups)\n');
  const onTerminal = await daemonAsNonRoot({ JOURNAL_STREAM: '25:48213' }, () => ({ dev: 1n, ino: 2n }));
  t.equal(onTerminal.err, 'agentcgroup: daemon: must run as root (it moves processes between cgroups)\n');
});
