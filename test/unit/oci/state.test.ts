import t from 'tap';
import { parseState } from '../../../src/oci/state.js';

import { PRINTABLE } from '../../fixtures/text.js';

const podmanId = '2b6ad6c4d1f0b1e3a8d6e1f7c0a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1';
const bundle = `/var/lib/containers/storage/overlay-containers/${podmanId}/userdata`;

// What crun writes (it always includes pid, 0 once the container is gone).
const crun = (status: string, pid: number) =>
  JSON.stringify({ ociVersion: '1.0.0', id: podmanId, status, pid, bundle, annotations: { 'io.podman.annotations.autoremove': 'FALSE' } });

// What runc writes: specs-go tags pid and annotations omitempty, so both vanish when unset.
const runc = (status: string, pid?: number) =>
  JSON.stringify({ ociVersion: '1.2.0', id: 'mycontainer', status, ...(pid === undefined ? {} : { pid }), bundle: '/run/bundles/mycontainer' });

const base = { ociVersion: '1.0.0', id: 'c1', status: 'running', pid: 4242, bundle: '/b' };
const withField = (key: string, value: unknown) => JSON.stringify({ ...base, [key]: value });

t.test('crun states at each stage parse, including pid 0 after the container died', async (t) => {
  t.same(parseState(crun('created', 31337)), {
    ociVersion: '1.0.0',
    id: podmanId,
    status: 'created',
    pid: 31337,
    bundle,
    annotations: { 'io.podman.annotations.autoremove': 'FALSE' },
  });
  t.equal(parseState(crun('running', 31337)).status, 'running');
  const stopped = parseState(crun('stopped', 0));
  t.equal(stopped.status, 'stopped');
  t.equal(stopped.pid, 0);
});

t.test('runc states parse, and poststop without any pid leaves pid absent', async (t) => {
  t.same(parseState(runc('creating', 1200)), {
    ociVersion: '1.2.0',
    id: 'mycontainer',
    status: 'creating',
    pid: 1200,
    bundle: '/run/bundles/mycontainer',
    annotations: {},
  });
  t.equal(parseState(runc('created', 1200)).pid, 1200);
  const stopped = parseState(runc('stopped'));
  t.equal(stopped.status, 'stopped');
  t.notOk('pid' in stopped, 'no pid key at all');
});

t.test('null pid and null annotations, as Go writes for unset fields, count as absent', async (t) => {
  const s = parseState(JSON.stringify({ ...base, pid: null, annotations: null }));
  t.notOk('pid' in s);
  t.same(s.annotations, {});
});

t.test('unknown fields are ignored and not carried through', async (t) => {
  const s = parseState(JSON.stringify({ ...base, created: '2024-01-01T00:00:00Z', owner: 'root', rootfs: '/x' }));
  t.same(Object.keys(s).sort(), ['annotations', 'bundle', 'id', 'ociVersion', 'pid', 'status']);
});

t.test('runtime-defined statuses of the right shape pass', async (t) => {
  t.equal(parseState(withField('status', 'paused')).status, 'paused');
  t.equal(parseState(withField('status', 'x'.repeat(32))).status, 'x'.repeat(32));
});

t.test('annotations keep every string entry, and a __proto__ key stays data', async (t) => {
  const s = parseState(`{"ociVersion":"1.0.0","id":"c1","status":"running","bundle":"/b","annotations":{"a":"1","io.x/y":"","__proto__":"p"}}`);
  t.same(Object.entries(s.annotations), [['a', '1'], ['io.x/y', ''], ['__proto__', 'p']]);
  t.equal(Object.getPrototypeOf(s.annotations), Object.prototype);
});

t.test('empty stdin and non-JSON stdin are refused as bad-state in one line', async (t) => {
  for (const text of ['', '  \n\t']) {
    t.throws(() => parseState(text), { code: 'bad-state', message: /^no OCI state on stdin$/ });
  }
  // V8 quotes the offending input in its reason, raw control characters and all.
  for (const text of ['{', 'not json', '{"id": "a\n\u0001\u009b"}x', "{'id': 1}", '\u0007bell\nline\u009b[2J']) {
    const err = t.throws(() => parseState(text), { code: 'bad-state', message: /^OCI state on stdin is not JSON: .{1,110}$/ });
    if (err instanceof Error) t.match(err.message, PRINTABLE, JSON.stringify(text));
  }
});

t.test('JSON that is not an object is refused', async (t) => {
  const cases: [string, string][] = [
    ['[]', 'an array'],
    ['null', 'null'],
    ['"x"', '"x"'],
    ['42', '42'],
    ['true', 'true'],
  ];
  for (const [text, got] of cases) {
    t.throws(() => parseState(text), { code: 'bad-state', message: `state: must be a JSON object, got ${got}` }, text);
  }
});

t.test('input over 1 MiB is refused before parsing', async (t) => {
  const big = JSON.stringify({ ...base, annotations: { pad: 'x'.repeat(1024 * 1024) } });
  t.throws(() => parseState(big), { code: 'bad-state', message: /^OCI state on stdin is larger than 1 MiB$/ });
  // Multi-byte characters count in bytes, not in string length.
  const wide = JSON.stringify({ ...base, annotations: { pad: 'é'.repeat(600 * 1024) } });
  t.throws(() => parseState(wide), { message: /larger than 1 MiB/ });
});

t.test('each field with a wrong type or value is named in a one-line message', async (t) => {
  const cases: [string, unknown, string | RegExp, string?][] = [
    ['ociVersion', 1, 'state.ociVersion: must be a string, got 1'],
    ['ociVersion', undefined, 'state.ociVersion: missing (must be a string)'],
    ['id', 7, 'state.id: must be a string, got 7', 'bad-id'],
    ['id', undefined, 'state.id: missing (must be a string)', 'bad-id'],
    ['id', '../x', /^state\.id: may only contain .*, got "\.\.\/x"$/, 'bad-id'],
    ['id', 'a\nb', /^state\.id: .*, got "a\\nb"$/, 'bad-id'],
    ['id', 'a\u0000b', /^state\.id: .*, got "a\\u0000b"$/, 'bad-id'],
    ['id', '..', /^state\.id: must not be "\." or contain "\.\."/, 'bad-id'],
    ['id', '', 'state.id: must not be empty', 'bad-id'],
    ['id', 'x'.repeat(2000), /^state\.id: must be at most 1024 characters, not 2000, got "x{60}"… \(2000 chars\)$/, 'bad-id'],
    ['status', undefined, 'state.status: missing (must be a string)'],
    ['status', 3, 'state.status: must be a string, got 3'],
    ['status', '', 'state.status: must be 1 to 32 lowercase letters, got ""'],
    ['status', 'Running', 'state.status: must be 1 to 32 lowercase letters, got "Running"'],
    ['status', 'run ning', /^state\.status: .*, got "run ning"$/],
    ['status', 'stopped\n', /^state\.status: .*, got "stopped\\n"$/],
    ['status', 'x'.repeat(33), /^state\.status: must be 1 to 32 lowercase letters/],
    ['pid', '12', 'state.pid: must be a non-negative integer, got "12"'],
    ['pid', -1, 'state.pid: must be a non-negative integer, got -1'],
    ['pid', 1.5, 'state.pid: must be a non-negative integer, got 1.5'],
    ['pid', 2 ** 53, 'state.pid: must be a non-negative integer, got 9007199254740992'],
    ['pid', true, 'state.pid: must be a non-negative integer, got true'],
    ['pid', [1], 'state.pid: must be a non-negative integer, got an array'],
    ['bundle', undefined, 'state.bundle: missing (must be a string)'],
    ['bundle', 5, 'state.bundle: must be a string, got 5'],
    ['bundle', 'relative/dir', 'state.bundle: must be an absolute path, got "relative/dir"'],
    ['bundle', '', 'state.bundle: must be an absolute path, got ""'],
    ['bundle', '/b\u0000/etc', 'state.bundle: must not contain NUL or newline, got "/b\\u0000/etc"'],
    ['bundle', '/b\n/etc', 'state.bundle: must not contain NUL or newline, got "/b\\n/etc"'],
    ['annotations', [], 'state.annotations: must be a JSON object, got an array'],
    ['annotations', 'a=b', 'state.annotations: must be a JSON object, got "a=b"'],
    ['annotations', { ok: 'x', 'io.x': 5 }, 'state.annotations["io.x"]: must be a string, got 5'],
    ['annotations', { plain: null }, 'state.annotations.plain: must be a string, got null'],
    ['annotations', { 'evil\nkey\u001b[31m': {} }, 'state.annotations["evil\\nkey\\u001b[31m"]: must be a string, got an object'],
  ];
  for (const [key, value, message, code = 'bad-state'] of cases) {
    const text = value === undefined ? JSON.stringify({ ...base, [key]: undefined }) : withField(key, value);
    const err = t.throws(() => parseState(text), { code, message }, `${key} = ${JSON.stringify(value)?.slice(0, 30)}`);
    if (!(err instanceof Error)) continue;
    t.match(err.message, PRINTABLE, 'printable one line');
    if (typeof message === 'string') t.equal(err.message, message, 'whole message');
  }
});
