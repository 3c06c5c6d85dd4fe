/** One line of /proc/<pid>/mountinfo, reduced to what cgroup discovery needs. */
export interface Mount {
  mountPoint: string;
  fsType: string;
  /** Per-superblock options; for cgroup v1 these name the bound controllers (e.g. `rw,memory`). */
  superOptions: string[];
}

// mountinfo escapes space, tab, newline and backslash in paths as octal (\040 ...).
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses mountinfo text; malformed lines are skipped rather than trusted. */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const sep = fields.indexOf('-');
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    if (sep < 6 || fields.length < sep + 4) continue;
    mounts.push({
      mountPoint: unescapeOctal(fields[4] ?? ''),
      fsType: fields[sep + 1] ?? '',
      superOptions: (fields[sep + 3] ?? '').split(','),
    });
  }
  return mounts;
}

/** The cgroup2 mount to use: the conventional /sys/fs/cgroup first, else the first one listed. */
export function pickCgroup2Mount(mounts: Mount[]): Mount | undefined {
  const v2 = mounts.filter((m) => m.fsType === 'cgroup2');
  return v2.find((m) => m.mountPoint === '/sys/fs/cgroup') ?? v2[0];
}

/** One row of /proc/cgroups: which hierarchy a controller is bound to (0 = cgroup v2 or unused). */
export interface ControllerBinding {
  name: string;
  hierarchy: number;
  enabled: boolean;
}

export function parseProcCgroups(text: string): ControllerBinding[] {
  const rows: ControllerBinding[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [name, hierarchy, , enabled] = line.trim().split(/\s+/);
    if (name === undefined || hierarchy === undefined || enabled === undefined) continue;
    const h = Number(hierarchy);
    if (!Number.isInteger(h)) continue;
    rows.push({ name, hierarchy: h, enabled: enabled === '1' });
  }
  return rows;
}

/** Splits a space-separated controller list such as cgroup.controllers or cgroup.subtree_control. */
export function parseControllerList(text: string): string[] {
  return text.split(/\s+/).filter((c) => c !== '');
}

/**
 * The v2 path of a process from /proc/<pid>/cgroup: the `0::<path>` line. Returns undefined when the
 * process has no v2 membership line (a pure v1 host).
 */
export function parseUnifiedCgroupPath(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3).trim();
  }
  return undefined;
}

/** Kernel release "6.1.0-56-amd64" -> [6, 1, 0]; missing parts count as 0. */
export function parseKernelRelease(release: string): [number, number, number] {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(release.trim());
  return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0), Number(m?.[3] ?? 0)];
}

export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const [a, b] = parseKernelRelease(release);
  return a > major || (a === major && b >= minor);
}
