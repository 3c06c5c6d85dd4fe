/**
 * An OCI image archive (an image layout, tarred: what `podman load` and `docker load` read) from
 * uncompressed layer tars, written without an engine: no daemon, no registry, no cgroup. The layers
 * are gzipped here; digests are SHA-256 of the bytes as stored, diff_ids of the tars.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface ImageSpec {
  /** Uncompressed tars, base first. */
  layers: string[];
  entrypoint: string[];
  env: string[];
  labels: Record<string, string>;
  /** name:tag, as `podman images` and `docker images` show it after a load. */
  ref: string;
  /** ISO 8601, for the config's `created` (the commit's time: the same sources give the same image). */
  created: string;
}

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Blob {
  digest: string;
  size: number;
}

function putBlob(layout: string, bytes: Buffer | string): Blob {
  const digest = sha256(bytes);
  const file = join(layout, 'blobs', ...digest.split(':'));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return { digest, size: Buffer.byteLength(bytes) };
}

/** The image's config, manifest and index as JSON values (pure: a unit test reads them). */
export function imageDocuments(spec: ImageSpec, diffIds: string[], layers: Blob[], config?: Blob) {
  const configDoc = {
    created: spec.created,
    architecture: 'amd64',
    os: 'linux',
    config: { Entrypoint: spec.entrypoint, Env: spec.env, Labels: spec.labels },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: spec.created, created_by: i === 0 ? 'Debian 12 packages (deploy/package/main.ts)' : 'agentcgroup (deploy/package/main.ts)' })),
  };
  const manifest = config && {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
  };
  return { configDoc, manifest };
}

/** Writes the archive to `out`; returns the manifest's digest. */
export function writeOciArchive(spec: ImageSpec, out: string): string {
  const layout = mkdtempSync(join(tmpdir(), 'agentcgroup-oci-'));
  try {
    const diffIds: string[] = [];
    const layers: Blob[] = [];
    for (const tar of spec.layers) {
      const bytes = readFileSync(tar);
      diffIds.push(sha256(bytes));
      layers.push(putBlob(layout, gzipSync(bytes, { level: 6 })));
    }
    const { configDoc } = imageDocuments(spec, diffIds, layers);
    const config = putBlob(layout, JSON.stringify(configDoc));
    const { manifest } = imageDocuments(spec, diffIds, layers, config);
    const m = putBlob(layout, JSON.stringify(manifest));
    const [name, tag] = [spec.ref.slice(0, spec.ref.lastIndexOf(':')), spec.ref.slice(spec.ref.lastIndexOf(':') + 1)];
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...m,
          // podman names the loaded image by the ref name; Docker (25 and later) by containerd's annotation.
          annotations: { 'org.opencontainers.image.ref.name': spec.ref, 'io.containerd.image.name': `docker.io/library/${name}:${tag}` },
        },
      ],
    };
    writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const r = spawnSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-C', layout, '-cf', out, '.'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tar of the image layout failed: ${r.stderr}`);
    return m.digest;
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
