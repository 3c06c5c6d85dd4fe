/**
 * The inside half of the integration tier: a scenario script, bundled to plain CommonJS and run by
 * node inside the guest, records checks as JSON lines for the host-side tap test to assert on. No
 * tap in here: it is far too slow to load under emulation.
 */
import { appendFileSync } from 'node:fs';

export interface CheckRecord {
  check: string;
  ok: boolean;
  detail?: unknown;
  /** Milliseconds since the scenario started: the host reports where a scenario's time went. */
  ms?: number;
}

/** The last record a scenario writes; `ms` as in CheckRecord. */
export interface DoneRecord {
  done: true;
  ms?: number;
}

const started = Date.now();

export interface Checker {
  ok(cond: boolean, check: string, detail?: unknown): boolean;
  equal<T>(actual: T, expected: T, check: string, detail?: unknown): boolean;
  match(actual: string, pattern: RegExp, check: string, detail?: unknown): boolean;
}

function emit(record: CheckRecord | DoneRecord): void {
  const out = process.env.AGENTCGROUP_RESULTS;
  const line = `${JSON.stringify({ ...record, ms: Date.now() - started })}\n`;
  if (out) appendFileSync(out, line);
  else process.stdout.write(line);
}

export function scenario(body: (c: Checker) => Promise<void> | void): void {
  const c: Checker = {
    ok(cond, check, detail) {
      emit(detail === undefined ? { check, ok: cond } : { check, ok: cond, detail });
      return cond;
    },
    equal(actual, expected, check, detail) {
      return c.ok(Object.is(actual, expected), check, { actual, expected, ...(detail === undefined ? {} : { detail }) });
    },
    match(actual, pattern, check, detail) {
      return c.ok(pattern.test(actual), check, { actual, pattern: String(pattern), ...(detail === undefined ? {} : { detail }) });
    },
  };
  Promise.resolve()
    .then(() => body(c))
    .then(
      () => emit({ done: true }),
      (err: unknown) => {
        c.ok(false, 'scenario ran to the end', err instanceof Error ? err.stack : String(err));
        emit({ done: true });
      },
    )
    // A scenario that failed half-way may leave a child (a daemon, a runtime) holding the event loop:
    // once its checks are written, it gets 10 s to end on its own, not the tier's whole time limit.
    .then(() => setTimeout(() => process.exit(), 10_000).unref());
}
