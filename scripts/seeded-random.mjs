/**
 * mulberry32: a small seeded PRNG, so fixtures, test traffic and benchmark samples are the same
 * on every run. The one copy for test/, scripts/ and bench/.
 *
 * @param {number} seed any number; only its low 32 bits count
 * @returns {() => number} the next value in [0, 1) at each call
 */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
