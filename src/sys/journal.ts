/**
 * Syslog priorities on what the daemon writes to stderr, when stderr is the journal: journald reads a
 * leading `<N>` on each line as that line's priority (SyslogLevelPrefix=, on by default), so
 * `journalctl -p warning -u agentcgroup` finds our warnings. Only then: on a terminal or in a file
 * the prefix would be noise. systemd sets $JOURNAL_STREAM to `DEVICE:INODE` of the stream it connected
 * stdout/stderr to; the variable alone proves nothing (it is inherited, and stderr may have been
 * redirected since), so stderr's own device and inode must match it (systemd.exec(5)).
 */

export type Priority = 'error' | 'warning' | 'info';

const LEVEL: Record<Priority, number> = { error: 3, warning: 4, info: 6 };

/** Device and inode of an open fd, as fstat(2) gives them; undefined when it cannot be told. */
export type FdIdentity = (fd: number) => { dev: bigint; ino: bigint } | undefined;

/** `DEVICE:INODE` in decimal, as systemd writes it; anything else is not a journal stream. */
export function parseJournalStream(value: string | undefined): { dev: bigint; ino: bigint } | undefined {
  const m = /^(\d+):(\d+)$/.exec(value ?? '');
  return m ? { dev: BigInt(m[1]!), ino: BigInt(m[2]!) } : undefined;
}

/** Whether fd 2 is the very stream $JOURNAL_STREAM names. */
export function stderrIsJournal(env: NodeJS.ProcessEnv, identity: FdIdentity | undefined): boolean {
  const stream = parseJournalStream(env.JOURNAL_STREAM);
  if (!stream || !identity) return false;
  const fd = identity(2);
  return fd !== undefined && fd.dev === stream.dev && fd.ino === stream.ino;
}

/** Each line of `text` with the priority's `<N>` before it (journal on), or `text` as it is. */
export function withPriority(text: string, priority: Priority, journal: boolean): string {
  if (!journal) return text;
  const prefix = `<${LEVEL[priority]}>`;
  return text.replace(/^(?=.)/gm, prefix);
}
