/**
 * The release artifacts' builders (deploy/package/main.ts runs them; the package guest scenario
 * builds and installs the .deb with buildDeb). Each writes into `out` and returns the file.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { control, debFiles, debVersion } from './deb.js';
import { writeOciArchive } from './oci.js';

export class PackageError extends Error {}

export interface BuildOptions {
  out: string;
  compress: 'xz' | 'gzip' | 'none';
  /** The commit's time (ISO 8601): every file's time in the tars, and dpkg-deb's SOURCE_DATE_EPOCH. */
  created: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, env });
  if (r.error) throw new PackageError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new PackageError(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout;
}

// Reproducible tars: owners, order and times fixed (the commit's time).
const tarFlags = (mtime: string) => ['--owner=0', '--group=0', '--numeric-owner', '--sort=name', `--mtime=${mtime}`];

export function buildDeb(o: BuildOptions, version: string, commit: string, work: string): string {
  const stage = join(work, 'deb');
  const input = {
    version,
    commit,
    hooksJson: readFileSync('hooks/agentcgroup.json', 'utf8'),
    policyYaml: readFileSync('config/policy.yaml', 'utf8'),
    unit: readFileSync('config/systemd/agentcgroup.service', 'utf8'),
  };
  let bytes = 0;
  for (const f of debFiles(input, 'dist')) {
    const dest = join(stage, f.path);
    mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
    if ('file' in f.source) copyFileSync(f.source.file, dest);
    else writeFileSync(dest, f.source.text);
    chmodSync(dest, f.mode);
    if (!f.path.startsWith('/DEBIAN/')) bytes += statSync(dest).size;
  }
  chmodSync(join(stage, 'DEBIAN'), 0o755);
  writeFileSync(join(stage, 'DEBIAN/control'), control(input, Math.ceil(bytes / 1024)));
  const deb = join(o.out, `agentcgroup_${debVersion(version, commit)}_amd64.deb`);
  const epoch = String(Math.floor(Date.parse(o.created) / 1000));
  run('dpkg-deb', ['--root-owner-group', `-Z${o.compress}`, '--build', stage, deb], { ...process.env, SOURCE_DATE_EPOCH: epoch });
  return deb;
}

export function buildTarball(o: BuildOptions, version: string, work: string): string {
  const mtime = o.created;
  const name = `agentcgroup-${version}`;
  const top = join(work, 'tar', name);
  mkdirSync(join(top, 'dist'), { recursive: true });
  copyFileSync('dist/agentcgroup', join(top, 'dist/agentcgroup'));
  chmodSync(join(top, 'dist/agentcgroup'), 0o755);
  for (const f of ['install.sh', 'README.md', 'package.json']) copyFileSync(f, join(top, f));
  for (const d of ['hooks', 'config', 'deploy']) cpSync(d, join(top, d), { recursive: true, filter: (src) => !src.startsWith('deploy/package') });
  const tarball = join(o.out, `${name}-linux-x86_64.tar.gz`);
  run('tar', [...tarFlags(mtime), '-C', join(work, 'tar'), '-czf', tarball, name]);
  return tarball;
}

/** The Dockerfile's content: Debian 12's libraries and tools, then /opt/agentcgroup as its COPY lines put it. */
export const IMAGE_PACKAGES = ['libc6', 'libstdc++6', 'libgcc-s1', 'libbpf1', 'bash', 'coreutils', 'util-linux', 'sed', 'grep', 'diffutils', 'findutils'];
export const IMAGE_FILES = ['dist/agentcgroup', 'install.sh', 'hooks', 'config'];
export const IMAGE_ENTRYPOINT = ['/opt/agentcgroup/agentcgroup'];

export function buildImage(o: BuildOptions, version: string, commit: string, work: string): string {
  const created = o.created;
  if (spawnSync('mmdebstrap', ['--version']).status !== 0) throw new PackageError('the image needs mmdebstrap (apt-get install mmdebstrap), or pass --no-image');
  const base = join(work, 'base.tar');
  run('mmdebstrap', ['--quiet', '--variant=extract', `--include=${IMAGE_PACKAGES.join(',')}`, 'bookworm', base]);
  const root = join(work, 'image');
  const opt = join(root, 'opt/agentcgroup');
  mkdirSync(opt, { recursive: true });
  for (const f of IMAGE_FILES) cpSync(f, join(opt, basename(f)), { recursive: true });
  const ours = join(work, 'ours.tar');
  run('tar', [...tarFlags(created), '-C', root, '-cf', ours, 'opt']);
  const archive = join(o.out, `agentcgroup-${version}-image.oci.tar`);
  writeOciArchive(
    {
      layers: [base, ours],
      entrypoint: IMAGE_ENTRYPOINT,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      labels: { 'org.opencontainers.image.version': version, 'org.opencontainers.image.revision': commit, 'org.opencontainers.image.title': 'agentcgroup' },
      ref: `agentcgroup:${version}`,
      created,
    },
    archive,
  );
  return archive;
}

