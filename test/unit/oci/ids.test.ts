import t from 'tap';
import { safeName, validateContainerId } from '../../../src/oci/ids.js';

// A message must never carry a raw control character, line break or bidi override.
import { PRINTABLE } from '../../fixtures/text.js';

const podmanId = 'f3c1a9b0e2d4c6b8a0f1e3d5c7b9a1f3e5d7c9b1a3f5e7d9c1b3a5f7e9d1c3b5';

t.test('ids runc would accept pass unchanged', async (t) => {
  for (const id of [podmanId, 'mycontainer', 'a', 'A_b+c.d-e', 'web.1', '-rf', 'x'.repeat(1024)]) {
    t.equal(validateContainerId(id), id, JSON.stringify(id.slice(0, 20)));
  }
});

t.test('hostile and malformed ids are refused with a one-line bad-id error', async (t) => {
  const cases: [unknown, RegExp][] = [
    ['../x', /^container id: may only contain letters, digits and _ \+ \. -, got "\.\.\/x"$/],
    ['a/b', /may only contain .*, got "a\/b"$/],
    ['a\nb', /may only contain .*, got "a\\nb"$/],
    ['a\u0000b', /may only contain .*, got "a\\u0000b"$/],
    ['a\rb', /got "a\\rb"$/],
    ['a b', /got "a b"$/],
    ['a\tb', /got "a\\tb"$/],
    ['a\u009bb', /got "a\\u009bb"$/],
    ['a\u202eb', /got "a\\u202eb"$/],
    ['x,y', /got "x,y"$/],
    ['café', /got "café"$/],
    ['..', /^container id: must not be "\." or contain "\.\.", got "\.\."$/],
    ['.', /^container id: must not be "\." or contain "\.\.", got "\."$/],
    ['a..b', /contain "\.\.", got "a\.\.b"$/],
    ['', /^container id: must not be empty$/],
    ['x'.repeat(2000), /^container id: must be at most 1024 characters, not 2000, got "x{60}"… \(2000 chars\)$/],
    ['x'.repeat(1025), /at most 1024 characters, not 1025/],
    [5, /^container id: must be a string, got 5$/],
    [null, /^container id: must be a string, got null$/],
    [undefined, /^container id: missing \(must be a string\)$/],
    [{}, /^container id: must be a string, got an object$/],
    [['a'], /got an array$/],
  ];
  for (const [id, message] of cases) {
    const err = t.throws(() => validateContainerId(id), { code: 'bad-id', message }, JSON.stringify(id)?.slice(0, 30));
    if (err instanceof Error) {
      t.match(err.message, PRINTABLE, 'printable one line');
      t.ok(err.message.length < 160, 'short');
    }
  }
});

t.test('the caller names what is being checked', async (t) => {
  t.throws(() => validateContainerId('a/b', 'state.id'), { code: 'bad-id', message: /^state\.id: / });
});

t.test('safeName makes a short cgroup-safe fragment', async (t) => {
  const cases: [string, string][] = [
    ['pytest', 'pytest'],
    ['Bash: pytest -x', 'bash-pytest-x'],
    ['git diff HEAD~1', 'git-diff-head-1'],
    ['make_all.v2', 'make_all.v2'],
    ['  --weird--  ', 'weird'],
    ['...hidden', 'hidden'],
    ['trailing.', 'trailing'],
    ['a/../b', 'a-.-b'],
    ['v1...2', 'v1.2'],
    ['../..', 'call'],
    ['.', 'call'],
    ['..', 'call'],
    ['', 'call'],
    ['!!!', 'call'],
    ['日本語', 'call'],
    ['café latte', 'caf-latte'],
    ['tab\there\nnewline\u0000nul', 'tab-here-newline-nul'],
    ['x'.repeat(100), 'x'.repeat(32)],
    // The cut lands on a '-' that must be trimmed again.
    [`${'a'.repeat(31)} b`, 'a'.repeat(31)],
    [`${'a'.repeat(31)}.b`, 'a'.repeat(31)],
  ];
  for (const [input, want] of cases) t.equal(safeName(input), want, JSON.stringify(input));
});

t.test('safeName output always passes the id check and stays within bounds', async (t) => {
  const inputs = ['', '.', '..', '../../etc', 'A B C', '-', '_', '+', 'x'.repeat(5000), '\u0000', 'Ünïcödé', '-.-.-', 'a..b', 'x/../y'];
  // A tail-trim regex run over this whole string would backtrack quadratically and hang.
  inputs.push(`a${'-.'.repeat(200_000)}b`);
  for (const input of inputs) {
    const name = safeName(input);
    t.match(name, /^[a-z0-9_.-]{1,32}$/, JSON.stringify(input.slice(0, 20)));
    t.notOk(name.startsWith('.') || name.startsWith('-') || name.endsWith('.') || name.endsWith('-'));
    t.equal(validateContainerId(name), name);
  }
});
