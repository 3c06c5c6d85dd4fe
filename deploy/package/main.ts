/**
 * `npm run package [-- OPTIONS]`: the release artifacts from this checkout's build (npm run
 * build:binary first), into dist/package/:
 *
 *   agentcgroup_<version>+g<commit>_amd64.deb       Debian package (deploy/package/deb.ts)
 *   agentcgroup-<version>-linux-x86_64.tar.gz      the binary with install.sh, hooks, config, deploy
 *   agentcgroup-<version>-image.oci.tar            the DaemonSet's image (deploy/Dockerfile's content)
 *   SHA256SUMS
 *
 * The image is built without an engine (deploy/package/oci.ts): its base is Debian 12's packages,
 * unpacked by mmdebstrap from the Debian mirror (the Dockerfile's debian:12-slim plus libbpf1, without
 * a registry), its second layer the Dockerfile's COPY lines, its entrypoint the Dockerfile's. Load it
 * with `podman load -i` or `docker load -i`; `docker build -f deploy/Dockerfile .` gives the same
 * where an engine and Docker Hub are at hand.
 *
 *   --out DIR           another directory (made if missing)
 *   --no-image          skip the image (no mmdebstrap, no network)
 *   --deb-only          the Debian package alone
 *   --compress KIND     the .deb's compression: xz (default), gzip or none
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { PackageError, buildDeb, buildImage, buildTarball, run } from './build.js';

interface Options {
  out: string;
  image: boolean;
  debOnly: boolean;
  compress: 'xz' | 'gzip' | 'none';
}

function fail(message: string): never {
  process.stderr.write(`package: ${message}\n`);
  process.exit(1);
}

function options(argv: string[]): Options {
  const o: Options = { out: 'dist/package', image: true, debOnly: false, compress: 'xz' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-image') o.image = false;
    else if (a === '--deb-only') o.debOnly = true;
    else if (a === '--out' && argv[i + 1] !== undefined) o.out = argv[++i]!;
    else if (a === '--compress' && ['xz', 'gzip', 'none'].includes(argv[i + 1] ?? '')) o.compress = argv[++i] as Options['compress'];
    else fail(`unknown or incomplete option ${a} (see deploy/package/main.ts)`);
  }
  return o;
}

function main(): void {
  const o = options(process.argv.slice(2));
  for (const f of ['dist/agentcgroup', 'dist/agentcgroup-hook', 'dist/agentcgroup-runtime', 'dist/agentcgroup-exec']) {
    if (!existsSync(f)) fail(`${f} is missing: npm run build:binary`);
  }
  if (process.arch !== 'x64') fail(`the single binary is this machine's Node with the program inside: built here it is ${process.arch}, and only x86_64 (amd64) is packaged`);
  const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  const commit = run(process.execPath, ['src/sea/commit.mjs']);
  const said = run('dist/agentcgroup', ['--version']).trim();
  if (said !== `${version} (commit ${commit})`) fail(`dist/agentcgroup says ${said}, this checkout is ${version} (commit ${commit}): npm run build:binary`);
  const created = spawnSync('git', ['log', '-1', '--format=%cI'], { encoding: 'utf8' }).stdout.trim() || new Date().toISOString();
  mkdirSync(o.out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'agentcgroup-package-'));
  try {
    const b = { out: o.out, compress: o.compress, created };
    const made = [buildDeb(b, version, commit, work)];
    if (!o.debOnly) {
      made.push(buildTarball(b, version, work));
      if (o.image) made.push(buildImage(b, version, commit, work));
    }
    const names = made.map((f) => basename(f));
    // Every artifact of this run, and no other file's line.
    const sums = run('sha256sum', names.map((n) => resolve(o.out, n))).replace(new RegExp(`${resolve(o.out)}/`, 'g'), '');
    writeFileSync(join(o.out, 'SHA256SUMS'), sums);
    for (const f of made) console.log(`${f}  ${(statSync(f).size / 1e6).toFixed(1)} MB`);
    console.log(`${join(o.out, 'SHA256SUMS')}  (check: cd ${o.out} && sha256sum -c SHA256SUMS)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  if (!(err instanceof PackageError)) throw err;
  fail(err.message);
}
