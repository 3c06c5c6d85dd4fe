/**
 * The one pattern form of the policy: `*` matches any run of characters, everything else itself.
 * Used for program patterns (tracker.*) and for the policy keys a host lets containers set
 * (annotations.allow), so both read the same way.
 */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}
