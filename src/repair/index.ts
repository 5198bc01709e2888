export { type RepairOptions, type RepairReport, RepairError, repairVolume } from './repair.js';
export { type PeerScrub, type ScrubOptions, type ScrubReport, scrubVolume } from './scrub.js';
export { type RepairLoopOptions, startRepairLoop } from './loop.js';
export { type GcOptions, type GcReport, GcError, collectGarbage } from './gc.js';
