// src/nri/gen/ is committed, so the daemon needs no code generator: it must be exactly what the
// .proto files in src/nri/proto/ make, and those must be the upstream files the README names.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const NRI = 'src/nri';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : [join(dir, d.name)]));
}

t.test('the .proto files copied from upstream are byte for byte the ones the README names', async (t) => {
  const readme = readFileSync(join(NRI, 'proto/README.md'), 'utf8');
  for (const file of ['nri/api.proto', 'ttrpc/request.proto']) {
    const sum = createHash('sha256').update(readFileSync(join(NRI, 'proto', file))).digest('hex');
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${file}\``));
    t.ok(row?.includes(sum), `${file}: sha256 ${sum} in its README row`);
  }
});

t.test('src/nri/gen/ is what buf and protoc-gen-es make of the .proto files', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'agentcgroup-gen-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  execFileSync('npx', ['--no-install', 'buf', 'generate', 'proto', '--template', 'proto/buf.gen.yaml', '--output', out], { cwd: NRI, stdio: 'pipe' });
  const made = files(join(out, 'gen')).map((f) => relative(join(out, 'gen'), f)).sort();
  const kept = files(join(NRI, 'gen')).map((f) => relative(join(NRI, 'gen'), f)).sort();
  t.strictSame(kept, made, 'the same files');
  for (const f of made) {
    if (readFileSync(join(out, 'gen', f), 'utf8') !== readFileSync(join(NRI, 'gen', f), 'utf8')) t.fail(`${f} differs: run npm run gen:nri`);
  }
  t.ok(made.length >= 3, `${made.length} generated files compared`);
});
