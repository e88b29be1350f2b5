/**
 * How the merger recognises quantized weights, which it refuses: averaging integer codes with
 * per-model scales and zero points does not average the weights they stand for.
 */

/** Tensor-name endings that only quantization produces (scales of int weights, zero points, GPTQ/AWQ packs). */
const QUANT_NAME = /(?:_scales?|\.scales|zero_points?|qzeros|qweight|g_idx)$/i;

/** ONNX operators of quantized graphs (standard and com.microsoft contrib ops). */
const QUANT_OPS = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger',
  'MatMulNBits', 'MatMulBnb4', 'GatherBlockQuantized', 'DynamicQuantizeMatMul', 'DynamicQuantizeLSTM',
  'QGemm', 'QAttention', 'QOrderedMatMul', 'QOrderedAttention', 'QOrderedLayerNormalization',
]);

/** Low-precision integer element types that hold quantized weights when they are matrices. */
const QUANT_INT_TYPES = new Set(['I8', 'U8', 'INT8', 'UINT8', 'INT4', 'UINT4', 'I4', 'U4']);

const HINT = 'quantized weights cannot be averaged; merge the float (F32/F16/BF16) checkpoints and quantize the result';

/** Why a tensor looks quantized, or undefined. Rank-1 int8 tensors (masks, buffers) are not flagged. */
export function quantizedTensorProblem(name: string, dtype: string, shape: readonly number[]): string | undefined {
  if (QUANT_INT_TYPES.has(dtype) && shape.length >= 2) return `${dtype} matrix of shape [${shape.join(', ')}] looks quantized; ${HINT}`;
  if (QUANT_NAME.test(name)) return `the name looks like a quantization parameter (scale / zero point / packed weight); ${HINT}`;
  return undefined;
}

/** Why an element type that the merger does not support is refused (FP8, 4-bit, strings...). */
export function unsupportedTypeProblem(dtype: string): string {
  if (/^(F8|F6|F4|FLOAT8|FLOAT4|INT4|UINT4|I4|U4)/i.test(dtype)) return `element type ${dtype} is a quantized format; ${HINT}`;
  return `element type ${dtype} is not supported (float F64/F32/F16/BF16 are averaged, integers and bools copied)`;
}

/** Why an ONNX operator marks a quantized graph, or undefined. */
export function quantizedOpProblem(opType: string): string | undefined {
  if (QUANT_OPS.has(opType) || opType.startsWith('QLinear')) return `operator ${opType} belongs to a quantized graph; ${HINT}`;
  return undefined;
}
