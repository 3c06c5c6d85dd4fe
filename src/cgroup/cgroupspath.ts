/**
 * OCI `linux.cgroupsPath` as runc and crun read it, and whether a process's cgroup is the one it names.
 * Pure. The daemon as an NRI plugin is told a container's cgroupsPath and its init's pid by the
 * runtime; the init's own cgroup (/proc/<pid>/cgroup) is what gets carved, and it must be the one the
 * cgroupsPath names: a pid that is no longer the container's init (or a runtime's mistake) then names a
 * cgroup outside the container, and nothing is carved.
 *
 * The three forms:
 * - absolute, `/kubepods/burstable/pod<uid>/<id>` (the cgroupfs driver): under the cgroup2 root;
 * - relative, `<id>` (containerd's CRI when the pod has no cgroup parent): under the runtime's own
 *   cgroup, which only the runtime knows, so only the tail can be checked;
 * - systemd's `slice:prefix:name` (the systemd driver): the scope `<prefix>-<name>.scope` in the slice
 *   expanded as systemd nests slices (`a-b.slice` is `a.slice/a-b.slice`); crun places the container
 *   one cgroup below its scope (`container` on cgroup v2, `run.oci.systemd.subgroup`), so that one
 *   level is allowed.
 */
import { AgentcgroupError } from '../errors.js';
import { quote } from '../text.js';
import { checkCgroupPath } from './locate.js';

export type CgroupsPath =
  | { kind: 'absolute'; path: string }
  | { kind: 'relative'; path: string }
  | { kind: 'systemd'; slice: string | undefined; unit: string };

/** Far above any real one (a few nesting levels of 64-character ids), so no runtime's value is cut. */
const MAX_CGROUPS_PATH = 4096;
const SLICE = '.slice';
// systemd unit names: no slash, nothing a path or a log line would misread.
const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+$/;

function bad(raw: string, why: string): never {
  throw new AgentcgroupError('bad-cgroup-path', `cgroupsPath ${quote(raw, 120)}: ${why}`);
}

/** `a-b-c.slice` as systemd nests it, `a.slice/a-b.slice/a-b-c.slice`; `-.slice` is the root slice. */
function expandSlice(raw: string, slice: string): string {
  if (!slice.endsWith(SLICE) || !UNIT_NAME.test(slice)) bad(raw, `${quote(slice)} is not a systemd slice name`);
  if (slice === `-${SLICE}`) return '';
  const parts = slice.slice(0, -SLICE.length).split('-');
  if (parts.some((p) => p === '')) bad(raw, `${quote(slice)} is not a systemd slice name`);
  return parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}${SLICE}`).join('/');
}

/** Parses a cgroupsPath; throws bad-cgroup-path for one that is empty, too long, or climbs. */
export function parseCgroupsPath(raw: string): CgroupsPath {
  if (raw === '') bad(raw, 'empty (the runtime chose the cgroup itself)');
  if (raw.length > MAX_CGROUPS_PATH) bad(raw, `longer than ${MAX_CGROUPS_PATH} characters`);
  if (raw.startsWith('/')) return { kind: 'absolute', path: checkCgroupPath(raw, 'cgroupsPath') };
  const parts = raw.split(':');
  if (parts.length === 1) return { kind: 'relative', path: checkCgroupPath(raw, 'cgroupsPath') };
  if (parts.length !== 3) bad(raw, 'neither a path nor systemd\'s slice:prefix:name');
  const [slice = '', prefix = '', name = ''] = parts;
  if (!UNIT_NAME.test(name) || (prefix !== '' && !UNIT_NAME.test(prefix))) bad(raw, 'a prefix or name that is no systemd unit name');
  // runc's getUnitName: a name that is a slice is the unit itself, any other is a scope.
  const unit = name.endsWith(SLICE) ? name : `${prefix}-${name}.scope`;
  const expanded = slice === '' ? undefined : expandSlice(raw, slice);
  return { kind: 'systemd', slice: expanded, unit };
}

/** Whether `actual` (relative to the cgroup2 root, no slashes at the ends) is the cgroup `expected` names. */
export function cgroupMatches(actual: string, expected: CgroupsPath): boolean {
  switch (expected.kind) {
    case 'absolute':
      return actual === expected.path;
    case 'relative':
      return actual === expected.path || actual.endsWith(`/${expected.path}`);
    case 'systemd': {
      const segments = actual.split('/');
      // The scope itself, or one cgroup below it (crun's sub-cgroup).
      const at = segments.lastIndexOf(expected.unit);
      if (at < 0 || at < segments.length - 2) return false;
      if (expected.slice === undefined) return true;
      return segments.slice(0, at).join('/') === expected.slice;
    }
  }
}

/** Describes the cgroup `expected` names, for a message. */
export function describeCgroupsPath(expected: CgroupsPath): string {
  switch (expected.kind) {
    case 'absolute':
      return `/${expected.path}`;
    case 'relative':
      return `.../${expected.path}`;
    case 'systemd':
      return `${expected.slice === undefined ? '...' : `/${expected.slice}`}/${expected.unit}`;
  }
}
