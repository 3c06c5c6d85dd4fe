// `npm run build:binary` (after `npm run build`): dist/agentcgroup, one executable that needs no node
// and no node_modules. It is this machine's own node binary with a single-executable blob injected:
// a second bundle of the CLI in which koffi's native module and the eBPF objects come from assets
// embedded in the executable (src/sea/sea-config.json) instead of files beside the script.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildCommit } from './commit.mjs';

const require = createRequire(import.meta.url);

const here = dirname(fileURLToPath(import.meta.url));
process.chdir(resolve(here, '../..'));

const CONFIG = 'src/sea/sea-config.json';
const OUT = 'dist/agentcgroup';
// The fuse Node's binary checks at start to tell whether a blob was injected (Node's SEA docs).
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const KOFFI_REAL = require.resolve('koffi');
const KOFFI_SHIM = join(here, 'koffi.ts');

function fail(message) {
  console.error(`build:binary: ${message}`);
  process.exit(1);
}

const config = JSON.parse(readFileSync(CONFIG, 'utf8'));
for (const [name, path] of Object.entries(config.assets)) {
  if (!existsSync(path)) fail(`asset ${name} (${path}) is missing: run npm ci and npm run build first`);
}

/** Redirects, in this bundle only, the module loads that would otherwise look beside the script. */
const seaPlugin = {
  name: 'agentcgroup-sea',
  setup(b) {
    // Our sources' koffi is the shim; the shim's own require('koffi') is koffi itself.
    b.onResolve({ filter: /^koffi$/ }, (args) => ({ path: args.importer === KOFFI_SHIM ? KOFFI_REAL : KOFFI_SHIM }));
    // koffi's loader tries require('@koromix/koffi-<platform>') first. For ours, a stub hands it the
    // object process.dlopen made (koffi patches it in place, so not an ESM namespace); the other
    // platforms stay unresolved requires that fail inside koffi's try, as they do under node.
    b.onResolve({ filter: /^@koromix\/koffi-/ }, (args) =>
      args.path === '@koromix/koffi-linux-x64' ? { path: 'koffi-native', namespace: 'agentcgroup-sea' } : { path: args.path, external: true },
    );
    b.onLoad({ filter: /^koffi-native$/, namespace: 'agentcgroup-sea' }, () => ({
      contents: "module.exports = require('./koffi-native.js').loadKoffiNative();",
      resolveDir: here,
      loader: 'js',
    }));
  },
};

const started = Date.now();
await build({
  entryPoints: ['src/cli/index.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: config.main,
  plugins: [seaPlugin],
  define: { AGENTCGROUP_COMMIT: JSON.stringify(buildCommit()) },
  logLevel: 'warning',
});

const blob = spawnSync(process.execPath, ['--experimental-sea-config', CONFIG], { encoding: 'utf8' });
if (blob.status !== 0) fail(`node --experimental-sea-config failed: ${blob.stderr || blob.stdout}`);

// Built beside the target and renamed over it: a running dist/agentcgroup cannot be written (ETXTBSY).
const tmp = `${OUT}.tmp`;
copyFileSync(process.execPath, tmp);
chmodSync(tmp, 0o755);
// In a child: postject's ELF code prints "Can't find string offset for section name" warnings, which
// are harmless and only worth showing when the injection fails.
const postject = spawnSync(process.execPath, [require.resolve('postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', config.output, '--sentinel-fuse', FUSE], {
  encoding: 'utf8',
});
if (postject.status !== 0) fail(`postject failed: ${postject.stdout}${postject.stderr}`);
renameSync(tmp, OUT);
rmSync(config.output);

const check = spawnSync(resolve(OUT), ['--version'], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
if (check.status !== 0 || !/^\d+\.\d+\.\d+/.test(check.stdout)) fail(`${OUT} --version did not work: ${check.stderr || check.stdout}`);

const mb = (statSync(OUT).size / 1e6).toFixed(1);
console.log(`build:binary: ${OUT} ${mb} MB, version ${check.stdout.trim()}, built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
