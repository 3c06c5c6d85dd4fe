/**
 * The one error type users see. `message` is a single line a person can act on; `code` lets callers
 * and tests tell failures apart without matching on prose.
 */
export class AgentcgroupError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentcgroupError';
    this.code = code;
  }
}

/** A one-line description of any thrown value, for the last-resort handler: never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof AgentcgroupError) return err.message;
  if (err instanceof Error) {
    const errno = (err as NodeJS.ErrnoException).code;
    return errno ? `${err.message} (${errno})` : err.message;
  }
  return String(err);
}
