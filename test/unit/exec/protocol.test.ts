import t from 'tap';
import { MAX_MESSAGE_BYTES, type Request, encode, parseRequest } from '../../../src/exec/protocol.js';

t.test('begin and end round-trip through encode and parseRequest', async (t) => {
  const begin: Request = { v: 1, op: 'begin', name: 'pytest', argv: ['pytest', '-x'] };
  t.same(parseRequest(encode(begin).trim()), begin);
  const end: Request = { v: 1, op: 'end', call: 'pytest-mx1q2-a1b2c3', exit: 137, signal: null };
  t.same(parseRequest(encode(end).trim()), end);
  t.match(parseRequest(JSON.stringify({ ...end, exit: null, signal: 'SIGKILL' })), { op: 'end', signal: 'SIGKILL' });
});

t.test('the daemon ignores fields a container might add to choose its own limits', async (t) => {
  const r = parseRequest(JSON.stringify({ v: 1, op: 'begin', name: 'x', argv: ['x'], cgroup: '/other', memory_max: 'max' }));
  t.same(r, { v: 1, op: 'begin', name: 'x', argv: ['x'] });
});

const refused: [string, string, RegExp][] = [
  ['not JSON', '{', /not JSON/],
  ['an array', '[]', /not an object/],
  ['wrong version', '{"v":2,"op":"begin","name":"x","argv":["x"]}', /unsupported version 2/],
  ['unknown op', '{"v":1,"op":"move","pid":1}', /unknown op "move"/],
  ['empty argv', '{"v":1,"op":"begin","name":"x","argv":[]}', /argv/],
  ['NUL in argv', '{"v":1,"op":"begin","name":"x","argv":["a\\u0000b"]}', /NUL/],
  ['path in call id', '{"v":1,"op":"end","call":"../../x","exit":0,"signal":null}', /call id/],
  ['exit out of range', '{"v":1,"op":"end","call":"a","exit":256,"signal":null}', /exit/],
  ['odd signal', '{"v":1,"op":"end","call":"a","exit":null,"signal":"kill -9"}', /signal/],
  ['oversized', JSON.stringify({ v: 1, op: 'begin', name: 'x', argv: ['x'.repeat(MAX_MESSAGE_BYTES)] }), /longer than/],
];
for (const [what, line, pattern] of refused) {
  t.test(`refused: ${what}`, async (t) => {
    t.throws(() => parseRequest(line), { code: 'bad-request', message: pattern });
  });
}
