export { SeededRng, type RandomSource, type SeededRngState } from './seeded-rng.js';
export { DEFAULT_SAMPLING_PARAMS, resolveSamplingParams, type SamplingParams } from './sampling-params.js';
export { PenaltyTracker, type PenaltyConfig, type PenaltyTrackerState } from './penalty-tracker.js';
export { SamplerContext, sampleToken, argmax, isStopToken, type SamplerContextState } from './sampler.js';
export { StopMatcher, type StopMatch } from './stop-matcher.js';
