import t from 'tap';
import fc from 'fast-check';
import { bfloat16Values, float16Values, toBfloat16Bits, toFloat16Bits } from '../src/merge/tensor/half-float.js';
import { nearestHalfBits } from './fixtures/merge/nearest-half.js';

t.test('float64 -> float16/bfloat16 is the nearest value, ties to even (vs brute-force reference)', async (t) => {
  const property = (kind: 'F16' | 'BF16', convert: (v: number) => number) =>
    fc.property(fc.double({ noNaN: true, min: -70000, max: 70000 }), (v) => convert(v) === nearestHalfBits(v, kind));
  fc.assert(property('F16', toFloat16Bits), { numRuns: 20000 });
  fc.assert(property('BF16', toBfloat16Bits), { numRuns: 20000 });
  fc.assert(fc.property(fc.double({ noNaN: true }), (v) => toBfloat16Bits(v) === nearestHalfBits(v, 'BF16')), { numRuns: 20000 });
});

t.test('values just off a half-way point round the right way (the double-rounding trap)', async (t) => {
  // 1 + 2^-8 is the bf16 tie between 1 and 1+2^-7; a hair above must round up, a hair below down.
  const tie = 1 + 2 ** -8;
  t.equal(toBfloat16Bits(tie), 0x3f80, 'exact tie goes to even (1.0)');
  t.equal(toBfloat16Bits(tie + 2 ** -40), 0x3f81, 'above the tie by less than a float32 ulp still rounds up');
  t.equal(toBfloat16Bits(tie - 2 ** -40), 0x3f80);
  const tie16 = 1 + 2 ** -11;
  t.equal(toFloat16Bits(tie16), 0x3c00);
  t.equal(toFloat16Bits(tie16 + 2 ** -40), 0x3c01);
  for (const v of [tie + 2 ** -40, tie16 + 2 ** -40, 2 ** -24 * 0.5 + 2 ** -60, 65519.99, 65520, -65520, 1e-9]) {
    t.equal(toBfloat16Bits(v), nearestHalfBits(v, 'BF16'), `bf16 ${v}`);
    t.equal(toFloat16Bits(v), nearestHalfBits(v, 'F16'), `f16 ${v}`);
  }
});

t.test('special values: infinities, NaN, signed zero, overflow, subnormals', async (t) => {
  t.equal(toFloat16Bits(Infinity), 0x7c00);
  t.equal(toFloat16Bits(-Infinity), 0xfc00);
  t.equal(toFloat16Bits(1e6), 0x7c00, 'float16 overflow gives infinity');
  t.equal(toBfloat16Bits(1e39), 0x7f80, 'beyond float32 range gives bf16 infinity');
  t.ok(Number.isNaN(float16Values()[toFloat16Bits(NaN)]));
  t.ok(Number.isNaN(bfloat16Values()[toBfloat16Bits(NaN)]));
  t.equal(toFloat16Bits(-0), 0x8000);
  t.equal(toBfloat16Bits(-0), 0x8000);
  t.equal(toFloat16Bits(2 ** -24), 0x0001, 'smallest float16 subnormal');
  t.equal(toFloat16Bits(2 ** -25), 0x0000, 'half the smallest subnormal ties to even (zero)');
});

t.test('every 16-bit finite pattern survives decode -> encode unchanged', async (t) => {
  let bad = 0;
  for (let h = 0; h < 65536; h++) {
    if ((h & 0x7c00) !== 0x7c00 && toFloat16Bits(float16Values()[h]) !== h) bad++;
    if ((h & 0x7f80) !== 0x7f80 && toBfloat16Bits(bfloat16Values()[h]) !== h) bad++;
  }
  t.equal(bad, 0);
});
