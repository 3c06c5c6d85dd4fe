/**
 * The containerd config of the CRI scenarios, for 2.x (version 3) or 1.6 and 1.7 (version 2):
 * everything in one scratch directory (root, state, the gRPC and NRI sockets, CNI's directories), the
 * imported pause image as the sandbox image, and the cgroupfs driver kubelet's --cgroup-driver=cgroupfs
 * pairs with. `install-config containerd add` then appends our runtime table, as install.sh does on a
 * node; its BinaryName is repointed at a wrapper that runs this checkout's build.
 */
import { join } from 'node:path';
import { INSTALLED_SHIM } from '../../../src/runtime/installconfig.js';
import { ociArch } from './image.js';

export interface CriConfigOptions {
  /** The scratch directory containerd keeps everything in. */
  dir: string;
  /** The pause image's full reference, as imported. */
  sandboxImage: string;
  /** containerd's major version: 1 (1.6, 1.7) reads config version 2, 2 reads version 3. */
  containerdMajor: number;
}

/** Where the config keeps the CRI runtimes table and its sandbox image, by containerd's major version, as `config dump` prints them. */
export function criPaths(containerdMajor: number): { runtimes: string[]; sandboxImage: string[] } {
  return containerdMajor >= 2
    ? { runtimes: ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes'], sandboxImage: ['plugins', 'io.containerd.cri.v1.images', 'pinned_images', 'sandbox'] }
    : { runtimes: ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes'], sandboxImage: ['plugins', 'io.containerd.grpc.v1.cri', 'sandbox_image'] };
}

/** Where the config puts containerd's sockets, for the scenario to reach them. */
export function criSockets(dir: string): { grpc: string; nri: string } {
  return { grpc: join(dir, 'containerd.sock'), nri: join(dir, 'nri', 'nri.sock') };
}

/** A TOML literal string: our paths never hold a quote, and one that did would change the config's meaning. */
function literal(value: string): string {
  if (/['\n]/.test(value)) throw new Error(`cannot write ${JSON.stringify(value)} as a TOML literal string`);
  return `'${value}'`;
}

export function criConfig(o: CriConfigOptions): string {
  return o.containerdMajor >= 2 ? criConfig3(o) : criConfig2(o);
}

/** The common head: everything in scratch, and a log that says everything. */
function head(o: CriConfigOptions, version: number): string[] {
  const at = (...parts: string[]) => literal(join(o.dir, ...parts));
  return [
    `version = ${version}`,
    `root = ${at('root')}`,
    `state = ${at('state')}`,
    '',
    '[grpc]',
    `  address = ${literal(criSockets(o.dir).grpc)}`,
    '',
    // A failure in the guest is read from containerd's log afterwards: let it say everything.
    '[debug]',
    "  level = 'debug'",
    '',
  ];
}

/**
 * containerd 1.6 and 1.7 (version 2; keys as `containerd config default` of 1.6.20 prints them): one
 * CRI plugin holding it all. Its runtimes table replaces the built-in one, so runc is spelled out as
 * the default; no NRI (1.6 has none, 1.7 has it off).
 */
function criConfig2(o: CriConfigOptions): string {
  const at = (...parts: string[]) => literal(join(o.dir, ...parts));
  const cri = "plugins.'io.containerd.grpc.v1.cri'";
  return [
    ...head(o, 2),
    `[${cri}]`,
    `  sandbox_image = ${literal(o.sandboxImage)}`,
    '  disable_apparmor = true',
    '',
    `[${cri}.containerd]`,
    "  snapshotter = 'native'",
    "  default_runtime_name = 'runc'",
    '',
    `[${cri}.containerd.runtimes.runc]`,
    "  runtime_type = 'io.containerd.runc.v2'",
    '',
    `[${cri}.cni]`,
    `  bin_dir = ${at('cni', 'bin')}`,
    `  conf_dir = ${at('cni', 'net.d')}`,
    '',
  ].join('\n');
}

/** containerd 2.x (version 3): keys as `containerd config default` of 2.1.9 prints them. */
function criConfig3(o: CriConfigOptions): string {
  const { nri } = criSockets(o.dir);
  const at = (...parts: string[]) => literal(join(o.dir, ...parts));
  return [
    ...head(o, 3),
    "[plugins.'io.containerd.cri.v1.images']",
    // The native snapshotter copies layers into plain directories: nothing to mount but binds, so the
    // guest's overlay support does not matter here; the carve does not care how the rootfs was made.
    "  snapshotter = 'native'",
    '',
    "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
    // Without a registry, RunPodSandbox must find the pause image already imported.
    `  sandbox = ${literal(o.sandboxImage)}`,
    '',
    // ctr's import goes through the transfer service, which unpacks only into the snapshotters its
    // unpack_config names (by default overlayfs alone, and the service does not load without it): here
    // native, so the imported images are ready for CRI and overlayfs is not needed at all.
    "[[plugins.'io.containerd.transfer.v1.local'.unpack_config]]",
    `  platform = ${literal(`linux/${ociArch()}`)}`,
    "  snapshotter = 'native'",
    "  differ = 'walking'",
    '',
    "[plugins.'io.containerd.cri.v1.runtime']",
    // CRI would load its default AppArmor profile with apparmor_parser wherever the guest kernel has
    // AppArmor on: nothing of it concerns cgroups, and the host's root may lack the parser.
    '  disable_apparmor = true',
    '',
    // Host-network pods need no CNI: the directories only keep containerd off the host's /etc/cni.
    "[plugins.'io.containerd.cri.v1.runtime'.cni]",
    `  bin_dirs = [${at('cni', 'bin')}]`,
    `  conf_dir = ${at('cni', 'net.d')}`,
    '',
    // NRI on (its 2.x default) with its socket in scratch, and no plugin directories of the host's.
    "[plugins.'io.containerd.nri.v1.nri']",
    '  disable = false',
    `  socket_path = ${literal(nri)}`,
    `  plugin_path = ${at('nri', 'plugins')}`,
    `  plugin_config_path = ${at('nri', 'conf.d')}`,
    '',
  ].join('\n');
}

/**
 * The config with our runtime's BinaryName (the installed shim, as install-config writes it) replaced
 * by `shim`: the guest's /usr/local/bin is the host's, read-only. Throws when the line is not there.
 */
export function withShimBinary(text: string, shim: string): string {
  const line = `BinaryName = "${INSTALLED_SHIM}"`;
  if (text.split(line).length !== 2) throw new Error(`expected one line ${line} in the config`);
  return text.replace(line, `BinaryName = ${literal(shim)}`);
}
