/**
 * Container images without a registry: an OCI image layout, as one tar, that `ctr images import` takes
 * (containerd's archive.ImportIndex reads an `oci-layout` file, `index.json` and the blobs; the import
 * names the image from the manifest's io.containerd.image.name annotation). One gzip layer made of the
 * given files, the image config, the manifest and the index, each blob under its sha256.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { TAR_MTIME, type TarEntry, tar } from './tar.js';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** containerd's name for the image (the whole reference), and the OCI one (the tag alone). */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** The fields of an OCI image config's `config` that the test images set. */
export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
}

export interface ImageSpec {
  /** A full reference with a tag: `localhost/...:tag` (CRI normalizes a short name to docker.io). */
  ref: string;
  files: TarEntry[];
  config: ImageConfig;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
}

export interface OciArchive {
  archive: Buffer;
  /** The manifest as index.json lists it: containerd's image target. */
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor;
  /** sha256 of the uncompressed layer, as the config's rootfs.diff_ids holds it. */
  diffId: string;
}

const GO_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };

/** The architecture as OCI (Go) names it: an image of another one is filtered out by the import. */
export function ociArch(arch: string = process.arch): string {
  const name = GO_ARCH[arch];
  if (name === undefined) throw new Error(`no OCI architecture name known for node's ${arch}`);
  return name;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

function blob(mediaType: string, data: Buffer): { descriptor: Descriptor; data: Buffer } {
  return { descriptor: { mediaType, digest: sha256(data), size: data.length }, data };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** The tag of `ref` (`localhost/a/b:1` is 1): what an OCI layout's ref.name annotation holds. */
export function tagOf(ref: string): string {
  const tag = /:([\w][\w.-]{0,127})$/.exec(ref.slice(ref.lastIndexOf('/') + 1))?.[1];
  if (tag === undefined) throw new Error(`image reference ${JSON.stringify(ref)} has no tag`);
  return tag;
}

/** The image as one OCI layout tar. Deterministic: the same spec gives the same bytes. */
export function ociArchive(spec: ImageSpec): OciArchive {
  const layerTar = tar(spec.files);
  const layer = blob(MEDIA_TYPES.layer, gzipSync(layerTar));
  const diffId = sha256(layerTar);
  const created = new Date(TAR_MTIME * 1000).toISOString();
  const architecture = ociArch();
  const config = blob(MEDIA_TYPES.config, json({
    created,
    architecture,
    os: 'linux',
    config: spec.config,
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, created_by: 'agentcgroup integration test image' }],
  }));
  const manifest = blob(MEDIA_TYPES.manifest, json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: config.descriptor,
    layers: [layer.descriptor],
  }));
  const listed: Descriptor = {
    ...manifest.descriptor,
    platform: { architecture, os: 'linux' },
    annotations: { [IMAGE_NAME_ANNOTATION]: spec.ref, [REF_NAME_ANNOTATION]: tagOf(spec.ref) },
  };
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [listed] };
  const blobs = [config, manifest, layer].map((b): TarEntry => ({ name: `blobs/sha256/${b.descriptor.digest.slice('sha256:'.length)}`, type: 'file', data: b.data }));
  const archive = tar([
    { name: 'oci-layout', type: 'file', data: json({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', type: 'file', data: json(index) },
    { name: 'blobs', type: 'dir' },
    { name: 'blobs/sha256', type: 'dir' },
    ...blobs,
  ]);
  return { archive, manifest: listed, config: config.descriptor, layer: layer.descriptor, diffId };
}

/** The directories runc mounts over or that programs expect; an image without them works, but real ones have them. */
const BASE_DIRS: TarEntry[] = ['dev', 'proc', 'sys', 'etc'].map((name) => ({ name, type: 'dir' }));

/** A busybox image's files: the static binary and a link per applet, in /bin. */
export function busyboxFiles(busybox: Buffer, applets: readonly string[]): TarEntry[] {
  return [
    ...BASE_DIRS,
    { name: 'tmp', type: 'dir', mode: 0o1777 },
    { name: 'bin', type: 'dir' },
    { name: 'bin/busybox', type: 'file', mode: 0o755, data: busybox },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: 'symlink', target: 'busybox' })),
  ];
}

/** A pause image's files: one static program at /pause, as registry.k8s.io/pause has. */
export function pauseFiles(pause: Buffer): TarEntry[] {
  return [...BASE_DIRS, { name: 'pause', type: 'file', mode: 0o755, data: pause }];
}
