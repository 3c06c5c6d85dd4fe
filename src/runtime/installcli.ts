/**
 * `agentcgroup install-config ENGINE ACTION TARGET`'s arguments checked and dispatched: a file edit
 * (engineconfig.ts) or, for containerd, the node-wide verbs (nodeinstall.ts).
 */
import { type Action, applyEngineConfig, type Engine, ENGINES } from './engineconfig.js';
import { detect, type NodeOptions, register, unregister } from './nodeinstall.js';
import { quote } from '../text.js';

const FILE_ACTIONS = ['add', 'remove'] as const;
const NODE_ACTIONS = { detect, register, unregister } as const;
type NodeAction = keyof typeof NODE_ACTIONS;

const isEngine = (e: string): e is Engine => (ENGINES as readonly string[]).includes(e);
const isFileAction = (a: string): a is Action => (FILE_ACTIONS as readonly string[]).includes(a);
const isNodeAction = (a: string): a is NodeAction => Object.hasOwn(NODE_ACTIONS, a);

/** The lines to print; throws (one line) on arguments it does not take or an edit it refuses. */
export function installConfig(engine: string, action: string, target: string, options: NodeOptions): string[] {
  if (!isEngine(engine)) throw new Error(`unknown engine ${quote(engine, 40)} (expected ${ENGINES.join(' or ')})`);
  if (isFileAction(action)) return applyEngineConfig(engine, action, target, options);
  if (engine === 'containerd' && isNodeAction(action)) {
    if (!target.startsWith('/')) throw new Error(`ROOT must be an absolute path, got ${quote(target, 80)}`);
    return NODE_ACTIONS[action](target, options);
  }
  const known = engine === 'containerd' ? [...FILE_ACTIONS, ...Object.keys(NODE_ACTIONS)] : FILE_ACTIONS;
  throw new Error(`unknown action ${quote(action, 40)} for ${engine} (expected ${known.join(', ')})`);
}
