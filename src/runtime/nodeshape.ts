/**
 * Which containerd a Kubernetes node runs, and so where the shim's runtime goes and what makes it read
 * it: a pure function of the files found on the node (nodeview.ts gathers them). Each shape, and what
 * was checked about it, is in deploy/kubernetes/README.md ("Node shapes").
 *
 *  - plain containerd with a config.toml: that file is edited (any version the edit takes), unless it is
 *    version 3 and imports /etc/containerd/conf.d, where a drop-in of ours goes instead;
 *  - plain containerd 2.x without config.toml: config.toml made, holding our runtime only (2.x reads
 *    its defaults under it; it reads conf.d only when a config.toml imports it, which none does here);
 *  - k3s and RKE2: the template of the version of the config they rendered, for them to render again;
 *  - k0s: a drop-in in /etc/k0s/containerd.d of the version of the containerd.toml it manages (k0s
 *    1.36+ refuses a version 2 drop-in; before, it merges the CRI plugin of one into its own), or its
 *    containerd.toml itself when the operator took that over.
 */
import { type ConfigVersion, criDisabled, importsCover, importsOf, isKnownVersion, parseToml, systemdCgroupOf, versionOf } from './containerdtoml.js';
import type { ContainerdEdit } from './containerdconfig.js';
import { RUNTIME_NAME } from './installconfig.js';

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
const CONTAINERD_DROPINS = '/etc/containerd/conf.d';
const K0S_CONFIG = '/etc/k0s/containerd.toml';
const K0S_DROPINS = '/etc/k0s/containerd.d';
/** k0s writes one of these units (`k0s install controller --enable-worker` or `k0s install worker`). */
const K0S_CONTROLLER_UNIT = '/etc/systemd/system/k0scontroller.service';
const DROPIN = `${RUNTIME_NAME}.toml`;

interface Rancher {
  name: string;
  /** Their data dir; `server/` below it only on a server. */
  root: string;
  units: { server: string; agent: string };
}
const RANCHERS: readonly Rancher[] = [
  { name: 'k3s', root: '/var/lib/rancher/k3s', units: { server: 'k3s', agent: 'k3s-agent' } },
  { name: 'RKE2', root: '/var/lib/rancher/rke2', units: { server: 'rke2-server', agent: 'rke2-agent' } },
];
const rancherDir = (r: Rancher) => `${r.root}/agent/etc/containerd`;
/** k3s and RKE2 render config.toml from the first of these there is (k3s: pkg/agent/containerd/config.go), else from their own base of version 3. */
const TEMPLATES: Record<ConfigVersion, string> = { 3: 'config-v3.toml.tmpl', 2: 'config.toml.tmpl' };

/** The files detection reads (when they are there), on the node. */
export const PROBE_FILES: readonly string[] = [CONTAINERD_CONFIG, K0S_CONFIG, ...RANCHERS.map((r) => `${rancherDir(r)}/config.toml`)];
/** Directories whose *.toml files detection reads, as containerd and k0s import them. */
export const DROPIN_DIRS: readonly string[] = [CONTAINERD_DROPINS, K0S_DROPINS];
/** Paths whose being there is all detection asks. */
export const PRESENCE: readonly string[] = [K0S_DROPINS, K0S_CONTROLLER_UNIT, ...RANCHERS.flatMap((r) => [rancherDir(r), `${r.root}/server`])];
/** Every file a shape names: where install.sh --uninstall looks for what it added. */
export const PLACES: readonly string[] = [
  CONTAINERD_CONFIG,
  `${CONTAINERD_DROPINS}/${DROPIN}`,
  K0S_CONFIG,
  `${K0S_DROPINS}/${DROPIN}`,
  ...RANCHERS.flatMap((r) => Object.values(TEMPLATES).map((t) => `${rancherDir(r)}/${t}`)),
];

export interface NodeView {
  /** The text of each probed file that is there, by its path on the node; a drop-in directory's *.toml files included. */
  files: ReadonlyMap<string, string>;
  /** Which PRESENCE paths are there. */
  present: ReadonlySet<string>;
  /** What `containerd --version` printed (the containerd on PATH), when it ran. */
  containerdVersion?: string | undefined;
}

/** What makes the node's containerd read the edit: a unit to restart, or nothing, and why. */
export type Restart = { unit: string } | { automatic: string };

export interface NodeShape {
  /** The node in words: "k3s agent, containerd config version 3". */
  name: string;
  /** The file to edit or make, as a path on the node. */
  file: string;
  edit: ContainerdEdit;
  restart: Restart;
  /** Whether the containerd on PATH is the one that reads `file`, so its `config dump` can check the edit. */
  check: boolean;
}

export type Detection = { shape: NodeShape } | { none: string } | { unhandled: string };

/** The major version in `containerd --version` ("containerd github.com/containerd/containerd/v2 v2.1.4 ..."). */
export function containerdMajor(version: string | undefined): number | undefined {
  const m = /\sv?(\d+)\.\d+\.\d+/.exec(version ?? '');
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** A file's config version, or why there is none to use. */
function configVersionIn(text: string, file: string): ConfigVersion | { why: string } {
  const parsed = parseToml(text);
  if ('error' in parsed) return { why: `${file} is not TOML: ${parsed.error}` };
  const v = versionOf(parsed.doc);
  return isKnownVersion(v) ? v : { why: `${file} has config version ${v.other === undefined ? '1 (no version line)' : String(v.other).slice(0, 20)}; only 2 and 3 are supported` };
}

/** The *.toml files of a drop-in directory but ours, in the order containerd's glob reads them. */
function othersIn(view: NodeView, dir: string): string[] {
  return [...view.files.keys()].filter((p) => p.startsWith(`${dir}/`) && p !== `${dir}/${DROPIN}`).sort();
}

/** SystemdCgroup of the default runtime as these configs set it, the last one that does winning; containerd's own is false. */
function systemdCgroupAcross(texts: readonly string[]): boolean {
  let on = false;
  for (const text of texts) {
    const parsed = parseToml(text);
    if ('error' in parsed) continue;
    const v = versionOf(parsed.doc);
    const set = isKnownVersion(v) ? systemdCgroupOf(parsed.doc, v) : undefined;
    if (set !== undefined) on = set;
  }
  return on;
}

const textsOf = (view: NodeView, paths: readonly string[]) => paths.flatMap((p) => view.files.get(p) ?? []);

function plain(view: NodeView): Detection {
  const major = containerdMajor(view.containerdVersion);
  const text = view.files.get(CONTAINERD_CONFIG);
  const restart = { unit: 'containerd' };
  if (text === undefined) {
    if (major === undefined) return { none: `no containerd here: no ${CONTAINERD_CONFIG}, no containerd on PATH, no k3s, RKE2 or k0s` };
    if (major < 2) return { unhandled: `containerd ${major}.x runs on its built-in defaults (no ${CONTAINERD_CONFIG}); write them first: containerd config default > ${CONTAINERD_CONFIG}` };
    // containerd 2.x merges config.toml onto its defaults (checked with 2.1's config dump), so ours alone changes nothing else.
    const name = `containerd ${major}.x on its defaults (no config.toml)`;
    return { shape: { name, file: CONTAINERD_CONFIG, edit: { containerdMajor: major, make: { version: 3, systemdCgroup: false } }, restart, check: true } };
  }
  const parsed = parseToml(text);
  const doc = 'doc' in parsed ? parsed.doc : undefined;
  if (doc !== undefined && criDisabled(doc)) return { none: `${CONTAINERD_CONFIG} disables containerd's CRI plugin (disabled_plugins): kubelet runs no pods through this containerd` };
  const version = doc === undefined ? undefined : versionOf(doc);
  const dropin = `${CONTAINERD_DROPINS}/${DROPIN}`;
  // Only 2.x reads version 3, and 2.x merges an import into what came before (1.x would replace the whole CRI section).
  if (doc !== undefined && version === 3 && importsCover(importsOf(doc), CONTAINERD_CONFIG, dropin)) {
    const systemdCgroup = systemdCgroupAcross([text, ...textsOf(view, othersIn(view, CONTAINERD_DROPINS))]);
    const name = `containerd ${major ?? 2}.x, config.toml (version 3) importing ${CONTAINERD_DROPINS}`;
    return { shape: { name, file: dropin, edit: { containerdMajor: major ?? 2, make: { version: 3, systemdCgroup } }, restart, check: true } };
  }
  const which = version === undefined ? '' : `, config.toml version ${isKnownVersion(version) ? version : String(version.other ?? 1)}`;
  return { shape: { name: `containerd ${major === undefined ? '(version unknown)' : `${major}.x`}${which}`, file: CONTAINERD_CONFIG, edit: { containerdMajor: major }, restart, check: true } };
}

function rancher(view: NodeView, r: Rancher): Detection | undefined {
  const dir = rancherDir(r);
  if (!view.present.has(dir)) return undefined;
  const role = view.present.has(`${r.root}/server`) ? 'server' : 'agent';
  const unit = r.units[role];
  const rendered = view.files.get(`${dir}/config.toml`);
  if (rendered === undefined) return { unhandled: `${r.name}: ${dir}/config.toml is not there yet, so its containerd version is unknown; start ${unit} once, then install` };
  const version = configVersionIn(rendered, `${dir}/config.toml`);
  if (typeof version !== 'number') return { unhandled: `${r.name}: ${version.why}` };
  // The template of the rendered version is the one this k3s reads: it rendered from it, or from its base of that version.
  const name = `${r.name} ${role}, containerd config version ${version} (rendered ${dir}/config.toml)`;
  return { shape: { name, file: `${dir}/${TEMPLATES[version]}`, edit: {}, restart: { unit }, check: false } };
}

/** k0s's own test (pkg/component/worker/containerd): a line that is exactly the marker, anywhere. */
const k0sManaged = (text: string) => text.split('\n').includes('# k0s_managed=true');

function k0s(view: NodeView): Detection | undefined {
  const config = view.files.get(K0S_CONFIG);
  if (config === undefined && !view.present.has(K0S_DROPINS)) return undefined;
  if (config === undefined) return { unhandled: `k0s: ${K0S_CONFIG} is not there yet, so its containerd version is unknown; start the k0s worker once, then install` };
  const version = configVersionIn(config, K0S_CONFIG);
  if (typeof version !== 'number') return { unhandled: `k0s: ${version.why}` };
  const unit = view.present.has(K0S_CONTROLLER_UNIT) ? 'k0scontroller' : 'k0sworker';
  // The operator's own containerd.toml: k0s reads no drop-in then, and it is edited as any config.
  if (!k0sManaged(config)) {
    const name = `k0s, containerd config version ${version} of the operator's (${K0S_CONFIG} not managed by k0s)`;
    return { shape: { name, file: K0S_CONFIG, edit: { containerdMajor: version === 3 ? 2 : undefined }, restart: { unit }, check: false } };
  }
  const systemdCgroup = systemdCgroupAcross(textsOf(view, othersIn(view, K0S_DROPINS)));
  const name = `k0s, containerd config version ${version} managed by k0s (drop-ins in ${K0S_DROPINS})`;
  const restart = { automatic: `k0s reloads containerd itself when ${K0S_DROPINS} changes` };
  return { shape: { name, file: `${K0S_DROPINS}/${DROPIN}`, edit: { make: { version, systemdCgroup } }, restart, check: false } };
}

export function detectNodeShape(view: NodeView): Detection {
  const distributions = [{ name: 'k0s', found: k0s(view) }, ...RANCHERS.map((r) => ({ name: r.name, found: rancher(view, r) }))].filter(
    (d): d is { name: string; found: Detection } => d.found !== undefined,
  );
  const [only, ...more] = distributions;
  if (more.length > 0) return { unhandled: `the containerd configs of several distributions are here (${distributions.map((d) => d.name).join(', ')}): name the file with install.sh --containerd-config` };
  // A distribution's kubelet uses the containerd it runs; a plain containerd beside it (Docker's) is not Kubernetes'.
  return only?.found ?? plain(view);
}
