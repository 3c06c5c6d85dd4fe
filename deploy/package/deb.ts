/**
 * The Debian package's contents, as data: where each file goes, its mode, and the text of the control
 * files and maintainer scripts. Pure, so a unit test reads it; deploy/package/main.ts writes it out
 * and runs dpkg-deb. Debian's layout, not install.sh's: /usr/bin and /usr/lib, the unit in
 * /lib/systemd/system, the policy a conffile. Installing it edits no engine config; purging removes
 * the package's files, the policy, and the state the daemon wrote (/var/lib/agentcgroup, /run/agentcgroup).
 */

export const DEB_BIN = '/usr/bin/agentcgroup';
export const DEB_HOOK_FRONT = '/usr/bin/agentcgroup-hook';
export const DEB_RUNTIME_FRONT = '/usr/bin/agentcgroup-runtime';
export const DEB_EXEC_CLIENT = '/usr/lib/agentcgroup/agentcgroup-exec';
export const DEB_POLICY = '/etc/agentcgroup/policy.yaml';
export const DEB_UNIT = '/lib/systemd/system/agentcgroup.service';
export const DEB_HOOKS_JSON = '/usr/share/containers/oci/hooks.d/agentcgroup.json';

/** Where a file of the package comes from: the checkout (a path), or text made here. */
export type Source = { file: string } | { text: string };

export interface DebFile {
  /** Absolute, in the installed system. */
  path: string;
  mode: number;
  source: Source;
}

export interface DebInput {
  /** package.json's. */
  version: string;
  /** src/sea/commit.mjs's: a short hash, maybe with -dirty, or unknown. */
  commit: string;
  /** The checkout's texts the package adapts to its paths. */
  hooksJson: string;
  policyYaml: string;
  unit: string;
}

/**
 * Debian's version: upstream's, then the commit (`+g<hash>`; a '-' there would start a Debian
 * revision, so -dirty becomes .dirty). Sorts after the plain release of the same version.
 */
export function debVersion(version: string, commit: string): string {
  return commit === 'unknown' ? version : `${version}+g${commit.replace(/-/g, '.')}`;
}

/** The hooks.d JSON with the front at its Debian path, told where the binary is (its default names /usr/local/bin). */
export function debHooksJson(shipped: string): string {
  const doc = JSON.parse(shipped) as { hook: { path: string; env?: string[] } };
  doc.hook.path = DEB_HOOK_FRONT;
  doc.hook.env = [`AGENTCGROUP_BINARY=${DEB_BIN}`];
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The shipped policy with the exec client at its Debian path; throws when the line to change is gone. */
export function debPolicy(shipped: string): string {
  const line = /^( {2}exec_client: )\/usr\/local\/lib\/agentcgroup\/agentcgroup-exec$/m;
  if (!line.test(shipped)) throw new Error('config/policy.yaml: no paths.exec_client line to point at the package\'s client');
  return shipped.replace(line, `$1${DEB_EXEC_CLIENT}`).replace('(install.sh puts it here)', '(the Debian package puts it here)');
}

/** The unit with the binary at its Debian path. */
export function debUnit(shipped: string): string {
  if (!shipped.includes('ExecStart=/usr/local/bin/agentcgroup daemon')) throw new Error('config/systemd/agentcgroup.service: no ExecStart line to point at /usr/bin');
  return shipped.replace('ExecStart=/usr/local/bin/agentcgroup daemon', `ExecStart=${DEB_BIN} daemon`).replace('The host policy install.sh puts there', 'The host policy the package puts there');
}

export function control(input: DebInput, installedKiB: number): string {
  return [
    'Package: agentcgroup',
    `Version: ${debVersion(input.version, input.commit)}`,
    'Architecture: amd64',
    'Maintainer: agentcgroup developers <agentcgroup@users.noreply.github.com>',
    'Section: admin',
    'Priority: optional',
    // The single binary is Node's own executable with the program inside: glibc and the C++ runtime.
    'Depends: libc6 (>= 2.34), libstdc++6, libgcc-s1',
    // The daemon's eBPF tracker loads it at run time; without it the daemon runs without the tracker.
    'Recommends: libbpf1',
    'Suggests: podman | cri-o | docker.io | containerd',
    `Installed-Size: ${installedKiB}`,
    'Homepage: https://github.com/agentcgroup/agentcgroup',
    'Description: per-tool-call cgroup v2 resource control for AI-agent containers',
    ' An OCI hook, runtime shim and supervisor daemon that carve an agent container\'s',
    ' cgroup into the framework\'s leaf and a cgroup per tool call, and answer memory',
    ' pressure with a graduated response (throttle, raise, freeze, kill) instead of',
    ' an OOM kill of the whole agent. Installing registers the hook for podman and',
    ' CRI-O (hooks.d) and the systemd unit; it edits no engine config (Docker and',
    ' containerd: agentcgroup install-config, see the README).',
    '',
  ].join('\n');
}

// Maintainer scripts honour DPKG_ROOT (dpkg --root with --force-script-chrootless: a throwaway
// root): systemd is asked only about the running system.
const SYSTEMD = 'if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then';

export const POSTINST = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  ${SYSTEMD}
    systemctl daemon-reload
    systemctl enable agentcgroup.service
    systemctl restart agentcgroup.service || echo "agentcgroup: the daemon did not start: journalctl -u agentcgroup" >&2
  fi
fi
`;

export const PRERM = `#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = deconfigure ]; then
  ${SYSTEMD}
    systemctl disable --now agentcgroup.service || true
  fi
fi
`;

export const POSTRM = `#!/bin/sh
set -e
if [ "$1" = purge ]; then
  # What the daemon and the hooks wrote: call logs, run state (containers still running lose nothing
  # of their own; they run on uncarved by us).
  rm -rf "\${DPKG_ROOT:-}/var/lib/agentcgroup" "\${DPKG_ROOT:-}/run/agentcgroup"
  rmdir "\${DPKG_ROOT:-}/etc/agentcgroup" 2>/dev/null || true
fi
if [ "$1" = remove ] || [ "$1" = purge ]; then
  ${SYSTEMD}
    systemctl daemon-reload || true
  fi
fi
`;

/**
 * Every file of the package, the DEBIAN/ ones included. The binary and its fronts come from dist/
 * (the fronts and the exec client as the binary writes them out: the same bytes it carries).
 */
export function debFiles(input: DebInput, dist: string): DebFile[] {
  return [
    { path: DEB_BIN, mode: 0o755, source: { file: `${dist}/agentcgroup` } },
    { path: DEB_HOOK_FRONT, mode: 0o755, source: { file: `${dist}/agentcgroup-hook` } },
    { path: DEB_RUNTIME_FRONT, mode: 0o755, source: { file: `${dist}/agentcgroup-runtime` } },
    { path: DEB_EXEC_CLIENT, mode: 0o755, source: { file: `${dist}/agentcgroup-exec` } },
    { path: DEB_HOOKS_JSON, mode: 0o644, source: { text: debHooksJson(input.hooksJson) } },
    { path: DEB_POLICY, mode: 0o644, source: { text: debPolicy(input.policyYaml) } },
    { path: DEB_UNIT, mode: 0o644, source: { text: debUnit(input.unit) } },
    { path: '/usr/share/doc/agentcgroup/README.md', mode: 0o644, source: { file: 'README.md' } },
    { path: '/DEBIAN/conffiles', mode: 0o644, source: { text: `${DEB_POLICY}\n` } },
    { path: '/DEBIAN/postinst', mode: 0o755, source: { text: POSTINST } },
    { path: '/DEBIAN/prerm', mode: 0o755, source: { text: PRERM } },
    { path: '/DEBIAN/postrm', mode: 0o755, source: { text: POSTRM } },
  ];
}
