// The registry-less test images: the tar writer read back by GNU tar, and the OCI layout archive read
// back by its own rules (every digest and size the index, manifest and config name is the blob's; the
// config's diff_id is the uncompressed layer's), as containerd's import will check them.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { type TarEntry, tar } from '../../integration/cri/tar.js';
import { IMAGE_NAME_ANNOTATION, MEDIA_TYPES, REF_NAME_ANNOTATION, busyboxFiles, ociArch, ociArchive, pauseFiles, tagOf } from '../../integration/cri/image.js';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** GNU tar's reading of an archive: `tar -tv` lines, or a member's bytes. */
function gnuTar(archive: Buffer, args: string[]): { status: number | null; out: Buffer; err: string } {
  const r = spawnSync('tar', [...args, '-f', '-'], { input: archive });
  return { status: r.status, out: r.stdout, err: r.stderr.toString() };
}

/** The members of a ustar archive (name, type flag, bytes, link target), read by the format's rules. */
function members(archive: Buffer): Map<string, { type: string; data: Buffer; target: string }> {
  const out = new Map<string, { type: string; data: Buffer; target: string }>();
  const field = (h: Buffer, at: number, len: number) => h.subarray(at, at + len).toString('utf8').replace(/\0.*$/s, '');
  for (let at = 0; at + 512 <= archive.length;) {
    const h = archive.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(field(h, 124, 12), 8);
    out.set(field(h, 0, 100), { type: field(h, 156, 1), data: archive.subarray(at + 512, at + 512 + size), target: field(h, 157, 100) });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

const ENTRIES: TarEntry[] = [
  { name: 'bin', type: 'dir' },
  { name: 'tmp', type: 'dir', mode: 0o1777 },
  { name: 'bin/tool', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { name: 'bin/alias', type: 'symlink', target: 'tool' },
  { name: 'empty', type: 'file', data: Buffer.alloc(0) },
  { name: 'block', type: 'file', data: Buffer.alloc(512, 7) },
];

t.test('tar: GNU tar reads what we write', async (t) => {
  const archive = tar(ENTRIES);
  t.equal(archive.length % 512, 0, 'whole blocks');
  t.ok(archive.subarray(-1024).every((b) => b === 0), 'ends with two zero blocks');
  const list = gnuTar(archive, ['-tv', '--numeric-owner']);
  t.equal(list.status, 0, `tar -tv reads it (checksums and fields valid) ${list.err}`);
  const lines = list.out.toString().trim().split('\n');
  t.match(lines, [
    /^drwxr-xr-x 0\/0 +0 2024-01-01 \S+ bin\/$/,
    /^drwxrwxrwt 0\/0 +0 2024-01-01 \S+ tmp\/$/,
    /^-rwxr-xr-x 0\/0 +18 2024-01-01 \S+ bin\/tool$/,
    /^lrwxrwxrwx 0\/0 +0 2024-01-01 \S+ bin\/alias -> tool$/,
    /^-rw-r--r-- 0\/0 +0 2024-01-01 \S+ empty$/,
    /^-rw-r--r-- 0\/0 +512 2024-01-01 \S+ block$/,
  ], 'names, types, modes, owners, sizes, link targets');
  t.equal(gnuTar(archive, ['-xO', 'bin/tool']).out.toString(), '#!/bin/sh\necho hi\n', 'a file reads back whole');
  t.same(gnuTar(archive, ['-xO', 'block']).out, Buffer.alloc(512, 7), 'a file of exactly one block too');
  t.same(tar(ENTRIES), archive, 'the same entries give the same bytes');
  t.throws(() => tar([{ name: `${'x'.repeat(101)}`, type: 'dir' }]), /longer than 100 bytes/, 'a name tar cannot hold is refused');
});

t.test('an OCI layout whose index, manifest and config agree with the blobs', async (t) => {
  const busybox = Buffer.from('\x7fELF stand-in for busybox');
  const ref = 'localhost/agentcgroup-it/busybox:1';
  const image = ociArchive({ ref, files: busyboxFiles(busybox, ['sh', 'cat']), config: { Cmd: ['sh'], Env: ['PATH=/bin'] } });
  const files = members(image.archive);
  t.equal(gnuTar(image.archive, ['-t']).status, 0, 'GNU tar reads the archive');
  t.same([...files.keys()].sort(), [
    'blobs/', 'blobs/sha256/', `blobs/sha256/${image.config.digest.slice(7)}`, `blobs/sha256/${image.layer.digest.slice(7)}`,
    `blobs/sha256/${image.manifest.digest.slice(7)}`, 'index.json', 'oci-layout',
  ].sort(), 'the layout file, the index and three blobs');
  t.same(JSON.parse(files.get('oci-layout')?.data.toString() ?? ''), { imageLayoutVersion: '1.0.0' });
  const blob = (digest: string) => {
    const data = files.get(`blobs/sha256/${digest.replace(/^sha256:/, '')}`)?.data ?? Buffer.alloc(0);
    t.equal(sha256(data), digest, `blob ${digest.slice(0, 19)}… has that digest`);
    return data;
  };

  const index = JSON.parse(files.get('index.json')?.data.toString() ?? '') as { schemaVersion: number; mediaType: string; manifests: { mediaType: string; digest: string; size: number; platform: unknown; annotations: Record<string, string> }[] };
  t.equal(index.schemaVersion, 2);
  t.equal(index.mediaType, MEDIA_TYPES.index);
  t.equal(index.manifests.length, 1, 'one manifest');
  const [listed] = index.manifests;
  t.same(listed?.annotations, { [IMAGE_NAME_ANNOTATION]: ref, [REF_NAME_ANNOTATION]: '1' }, "containerd's full name and the OCI tag");
  t.same(listed?.platform, { architecture: ociArch(), os: 'linux' }, "this machine's platform, which the import keeps");
  t.equal(listed?.mediaType, MEDIA_TYPES.manifest);

  const manifestBytes = blob(listed?.digest ?? '');
  t.equal(manifestBytes.length, listed?.size, "the manifest's size");
  const manifest = JSON.parse(manifestBytes.toString()) as { schemaVersion: number; mediaType: string; config: { mediaType: string; digest: string; size: number }; layers: { mediaType: string; digest: string; size: number }[] };
  t.equal(manifest.schemaVersion, 2);
  t.equal(manifest.mediaType, MEDIA_TYPES.manifest);
  t.equal(manifest.config.mediaType, MEDIA_TYPES.config);
  const configBytes = blob(manifest.config.digest);
  t.equal(configBytes.length, manifest.config.size, "the config's size");
  t.equal(manifest.layers.length, 1, 'one layer');
  const [layerDesc] = manifest.layers;
  t.equal(layerDesc?.mediaType, MEDIA_TYPES.layer);
  const layerBytes = blob(layerDesc?.digest ?? '');
  t.equal(layerBytes.length, layerDesc?.size, "the layer's size");

  const config = JSON.parse(configBytes.toString()) as { architecture: string; os: string; config: unknown; rootfs: { type: string; diff_ids: string[] } };
  t.equal(config.architecture, ociArch());
  t.equal(config.os, 'linux');
  t.same(config.config, { Cmd: ['sh'], Env: ['PATH=/bin'] }, 'the image config as given');
  const layerTar = gunzipSync(layerBytes);
  t.same(config.rootfs, { type: 'layers', diff_ids: [sha256(layerTar)] }, 'diff_id: the uncompressed layer');
  t.equal(image.diffId, sha256(layerTar));

  const layer = members(layerTar);
  t.same(layer.get('bin/busybox')?.data, busybox, 'the layer holds busybox');
  t.match(layer.get('bin/sh'), { type: '2', target: 'busybox' }, 'and its applets as links');
  t.match(layer.get('tmp/'), { type: '5' });
  t.equal(gnuTar(layerTar, ['-t']).status, 0, 'GNU tar reads the layer');
  t.same(ociArchive({ ref, files: busyboxFiles(busybox, ['sh', 'cat']), config: { Cmd: ['sh'], Env: ['PATH=/bin'] } }).archive, image.archive, 'deterministic');
});

t.test('the pause image: one program at /pause', async (t) => {
  const image = ociArchive({ ref: 'localhost/agentcgroup-it/pause:1', files: pauseFiles(Buffer.from('pause')), config: { Entrypoint: ['/pause'] } });
  const layer = members(gunzipSync(members(image.archive).get(`blobs/sha256/${image.layer.digest.slice(7)}`)?.data ?? Buffer.alloc(0)));
  t.match(layer.get('pause'), { type: '0', data: Buffer.from('pause') });
});

t.test('references and architectures', async (t) => {
  t.equal(tagOf('localhost/agentcgroup-it/pause:1'), '1');
  t.equal(tagOf('localhost:5000/a/b:v1.2-x'), 'v1.2-x', 'a registry port is not a tag');
  t.throws(() => tagOf('localhost:5000/a/b'), /has no tag/);
  t.equal(ociArch('x64'), 'amd64');
  t.equal(ociArch('arm64'), 'arm64');
  t.throws(() => ociArch('ia32'), /no OCI architecture/);
});
