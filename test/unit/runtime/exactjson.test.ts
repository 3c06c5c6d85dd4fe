// The shim's config.json round trip keeps every number it does not add byte for byte: the edit of a
// Docker 28 config is the original text with exactly our two insertions, whatever the numbers are.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { LosslessNumber } from 'lossless-json';
import { AgentcgroupError } from '../../../src/errors.js';
import { parseExact, stringifyExact } from '../../../src/runtime/exactjson.js';
import { execSocketMount } from '../../../src/exec/socketmount.js';
import type { HookSpec } from '../../../src/hook/register.js';
import { injectShim } from '../../../src/runtime/inject.js';

// Shaped as Docker 28 writes config.json (Go's json.Marshal: compact, no final newline) for `docker run
// --runtime agentcgroup --annotation io.agentcgroup.enable=true --memory 512m --memory-swap -1 --init
// --ulimit memlock=-1`, cut down: memlock -1 is 2^64-1 in both limits, swap -1. The ioctl rule, whose
// mask is 0xffffffffffffffff written as 2^64-1, is made by hand: seccomp profiles may carry such masks.
const DOCKER28 = readFileSync('test/fixtures/oci/docker28-config.json', 'utf8');
const F = '/bundle/config.json';
const HOOK: HookSpec = { path: '/usr/local/bin/agentcgroup', args: ['agentcgroup', 'hook'], env: ['PATH=/bin'], timeout: 30 };
const MOUNT = [execSocketMount('/run/agentcgroup', 'c1')];

/** What the shim must write for `text`: the text itself, our mount spliced in last, our hooks appended. */
function expected(text: string): string {
  const lastMount = '"options":["rbind","rprivate"]}]';
  const at = text.indexOf(lastMount) + lastMount.length - 1;
  const bind = { destination: '/run/agentcgroup', type: 'bind', source: '/run/agentcgroup/sock/c1', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] };
  const hook = (stage: string) => ({ path: HOOK.path, args: [...HOOK.args, stage], env: HOOK.env, timeout: HOOK.timeout });
  const hooks = { createRuntime: [hook('createRuntime')], poststop: [hook('poststop')] };
  const mounted = `${text.slice(0, at)},${JSON.stringify(bind)}${text.slice(at)}`;
  return `${mounted.slice(0, -1)},"hooks":${JSON.stringify(hooks)}}`;
}

const edit = (text: string) => stringifyExact(injectShim(parseExact(text, F), HOOK, MOUNT).config);

t.test('the fixture bites: JSON.parse and JSON.stringify change its numbers', async (t) => {
  const lossy = JSON.stringify(JSON.parse(DOCKER28));
  t.not(lossy, DOCKER28);
  t.match(lossy, /"hard":18446744073709552000,/, 'runc would refuse this memlock');
  t.equal(DOCKER28.split('18446744073709551615').length - 1, 3, 'memlock hard and soft, the seccomp mask');
});

t.test('Docker 28 config: the edit is the original bytes plus our mount and hooks', async (t) => {
  const out = edit(DOCKER28);
  t.equal(out, expected(DOCKER28));
  t.equal(edit(out), out, 'editing the result again changes nothing');
});

// A JSON number as an engine may spell it: any length, sign, fraction, exponent (1E400 is Infinity
// to JSON.parse, -0 is 0 to JSON.stringify, 9223372036854771712 is the kernel's largest memory.max).
const numberText = fc
  .tuple(
    fc.constantFrom('', '-'),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,40}$/), fc.constantFrom('18446744073709551615', '9223372036854771712', '9007199254740993')),
    fc.option(fc.stringMatching(/^\.[0-9]{1,20}$/), { nil: '' }),
    fc.option(fc.stringMatching(/^[eE][+-]?[0-9]{1,4}$/), { nil: '' }),
  )
  .map((parts) => parts.join(''));

t.test('any number, wherever the engine put it, comes back as written', async (t) => {
  const slots = ['"hard":18446744073709551615', '"soft":18446744073709551615', '"limit":536870912', '"swap":-1', '"valueTwo":21505', '"additionalGids":[0'];
  const kept = fc.property(fc.array(numberText, { minLength: slots.length, maxLength: slots.length }), (numbers) => {
    const text = slots.reduce((s, slot, i) => s.replace(slot, slot.replace(/-?\d+$/, numbers[i] as string)), DOCKER28);
    return edit(text) === expected(text);
  });
  // fast-check throws with the smallest set of numbers that came back changed.
  t.doesNotThrow(() => fc.assert(kept, { numRuns: 300 }));
});

t.test('parsing: last of a repeated key wins, as JSON.parse and Go read it; refusals are one line', async (t) => {
  t.same(parseExact('{"a":1,"a":{"b":2}}', F), { a: { b: 2 } });
  t.equal(stringifyExact(parseExact('{"__proto__":{"x":1},"y":[]}', F)), '{"__proto__":{"x":1},"y":[]}', '__proto__ stays an ordinary key');
  for (const [text, message] of [
    ['[]', '/bundle/config.json: must be a JSON object'],
    ['{"a":', /^\/bundle\/config\.json: cannot be read for editing: .+$/],
    ['['.repeat(200_000), /^\/bundle\/config\.json: cannot be read for editing: .+$/],
  ] as const) {
    t.throws(() => parseExact(text, F), { constructor: AgentcgroupError, code: 'bad-config', message });
  }
});

t.test('a number where the edit needs an object or array is refused, not spread into one', async (t) => {
  for (const config of [{ hooks: new LosslessNumber('5') }, { hooks: { poststop: new LosslessNumber('1') } }, { mounts: new LosslessNumber('0') }]) {
    t.throws(() => injectShim(config, HOOK, MOUNT), AgentcgroupError);
  }
});
