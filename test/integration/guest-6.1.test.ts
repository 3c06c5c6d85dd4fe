// The integration tier's guest 6.1 of test/vm/tiers.json (see guest-tier.ts).
import { runGuestTier } from './guest-tier.js';

await runGuestTier('6.1');
