/** Names that end up as cgroup directory and file names: container ids and tool-call names. */
import { fail, string, type Where } from './validate.js';

const MAX_ID = 1024;

/**
 * The character set runc accepts (letters, digits, `_ + . -`; no `,` as runc's old regex let slip).
 * Stricter than runc in two ways: a length cap, and no `..` anywhere, so an id can never step out of
 * a directory however it is later joined or split.
 */
export function validateContainerId(id: unknown, what = 'container id'): string {
  const where: Where = { code: 'bad-id', path: what };
  const s = string(id, where);
  if (s === '') fail(where, 'must not be empty');
  if (s.length > MAX_ID) fail(where, `must be at most ${MAX_ID} characters, not ${s.length}`, s);
  if (!/^[\w+.-]+$/.test(s)) fail(where, 'may only contain letters, digits and _ + . -', s);
  if (s === '.' || s.includes('..')) fail(where, 'must not be "." or contain ".."', s);
  return s;
}

const MAX_NAME = 32;

/** A free-form tool-call name (`Bash: pytest -x`) as a short cgroup-safe fragment (`bash-pytest-x`). */
export function safeName(s: string): string {
  // '-' joins the runs it borders and dot runs collapse, so `pytest -x` gives one dash and every
  // name also passes validateContainerId's "no '..'" rule.
  const clean = s.toLowerCase().replace(/[^a-z0-9_.]+/g, '-').replace(/\.{2,}/g, '.');
  // The tail is trimmed only after the cut: /[-.]+$/ on a long '-.-.-x' string backtracks quadratically.
  const name = clean.replace(/^[-.]+/, '').slice(0, MAX_NAME).replace(/[-.]+$/, '');
  // Trimming dots rules out '.' and '..'; only emptiness is left to cover.
  return name === '' ? 'call' : name;
}
