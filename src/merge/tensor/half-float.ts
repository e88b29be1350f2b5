/**
 * float16 / bfloat16 <-> float64 conversions, correctly rounded (round to nearest, ties to even).
 *
 * Going float64 -> float32 -> half with two round-to-nearest steps can round twice the wrong way
 * (a value just above a half-way point lands exactly on it after the first step). So the first
 * step rounds to odd instead (truncate, then set the last bit when inexact): with 24 bits kept
 * for an 8- or 11-bit target, the second, round-to-nearest step is then exact (Boldo & Melquiond).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 bit pattern of `v` rounded to odd (NaN -> a quiet NaN of the same sign). */
function float32BitsRoundToOdd(v: number): number {
  f32[0] = v;
  let bits = u32[0];
  const rounded = f32[0];
  if (rounded !== v && !Number.isNaN(v)) {
    // rounded to nearest went away from zero: step the magnitude back one ulp, then mark inexact
    if (Math.abs(rounded) > Math.abs(v)) bits -= 1;
    bits |= 1;
  }
  return bits >>> 0;
}

/** bfloat16 bit pattern nearest to `v` (ties to even). */
export function toBfloat16Bits(v: number): number {
  const bits = float32BitsRoundToOdd(v);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff;
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** float16 bit pattern nearest to `v` (ties to even; overflow gives infinity). */
export function toFloat16Bits(v: number): number {
  const bits = float32BitsRoundToOdd(v);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // float16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // float16 subnormal: value = q * 2^-24 with q = full * 2^(exp-126)
    const shift = 14 - e;
    if (shift > 24) return sign;
    const full = mant | 0x800000;
    let q = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (q & 1) === 1)) q += 1;
    return sign | q;
  }
  let q = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1)) q += 1; // may carry into infinity: correct
  return sign | q;
}

function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

let float16Table: Float64Array | undefined;
let bfloat16Table: Float64Array | undefined;

/** Lookup table: float16 bit pattern -> value (built once, 512 KiB). */
export function float16Values(): Float64Array {
  if (!float16Table) {
    float16Table = new Float64Array(65536);
    for (let h = 0; h < 65536; h++) float16Table[h] = float16BitsToNumber(h);
  }
  return float16Table;
}

/** Lookup table: bfloat16 bit pattern -> value (built once, 512 KiB). */
export function bfloat16Values(): Float64Array {
  if (!bfloat16Table) {
    bfloat16Table = new Float64Array(65536);
    for (let h = 0; h < 65536; h++) {
      u32[0] = h << 16;
      bfloat16Table[h] = f32[0];
    }
  }
  return bfloat16Table;
}
