/**
 * A ustar writer for the test images: directories, regular files and symlinks, owned by root, with one
 * fixed mtime so that the same files always give the same bytes (and so the same digests). Enough for
 * an image layer and an OCI layout archive; nothing we write needs long names, devices or hard links.
 */

export type TarEntry =
  | { name: string; type: 'dir'; mode?: number }
  | { name: string; type: 'file'; mode?: number; data: Buffer }
  | { name: string; type: 'symlink'; target: string };

const BLOCK = 512;
/** 2024-01-01T00:00:00Z: any fixed time; 0 would show as 1970 in `tar -tv`, which looks like a bug. */
export const TAR_MTIME = 1_704_067_200;
const TYPEFLAG = { file: '0', symlink: '2', dir: '5' } as const;

/** An octal field of `width` bytes: digits padded with zeros, then a NUL (as GNU tar and Go's archive/tar read it). */
function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`tar: ${value} does not fit a ${width}-byte field`);
  return `${digits.padStart(width - 1, '0')}\0`;
}

function put(header: Buffer, offset: number, width: number, text: string, what: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > width) throw new Error(`tar: ${what} ${JSON.stringify(text)} is longer than ${width} bytes`);
  bytes.copy(header, offset);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  // A directory's name ends in a slash, as tar writes it.
  const name = entry.type === 'dir' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
  const mode = entry.type === 'symlink' ? 0o777 : (entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644));
  put(h, 0, 100, name, 'name');
  put(h, 100, 8, octal(mode, 8), 'mode');
  put(h, 108, 8, octal(0, 8), 'uid');
  put(h, 116, 8, octal(0, 8), 'gid');
  put(h, 124, 12, octal(size, 12), 'size');
  put(h, 136, 12, octal(TAR_MTIME, 12), 'mtime');
  put(h, 156, 1, TYPEFLAG[entry.type], 'type');
  if (entry.type === 'symlink') put(h, 157, 100, entry.target, 'link target');
  put(h, 257, 6, 'ustar\0', 'magic');
  put(h, 263, 2, '00', 'version');
  put(h, 265, 32, 'root', 'user name');
  put(h, 297, 32, 'root', 'group name');
  // The checksum is summed with its own field read as eight spaces, and written as six digits, NUL, space.
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `, 'checksum');
  return h;
}

/** The archive of `entries`, in their order, ended by the two zero blocks tar expects. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === 'file' ? entry.data : Buffer.alloc(0);
    parts.push(header(entry, data.length), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
