// The integration tier's guest 7.2-1cpu of test/vm/tiers.json (see guest-tier.ts).
import { runGuestTier } from './guest-tier.js';

await runGuestTier('7.2-1cpu');
