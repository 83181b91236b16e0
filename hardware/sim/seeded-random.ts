// Reproducible pseudo-randomness for simulators (noise, latency jitter): the same seed gives the same run.

/** Returns numbers in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** mulberry32: tiny, fast and good enough for simulation noise (not for anything secret). */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniformly distributed number in [min, max]. */
export function randomBetween(random: RandomSource, min: number, max: number): number {
  return min + (max - min) * random();
}

/** A uniformly distributed integer in [min, max]. */
export function randomInt(random: RandomSource, min: number, max: number): number {
  return Math.min(max, min + Math.floor((max - min + 1) * random()));
}
