/**
 * One ONNX input: the decoded ModelProto and, for every initializer, where its bytes are: inside
 * the model (`raw_data`, or typed fields such as `float_data`, converted to little-endian bytes)
 * or in an external data file (`data_location = EXTERNAL`, `location`/`offset`/`length`).
 * External data is never loaded whole; it is read tensor by tensor while merging.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readFile, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { errors } from '../../errors.js';
import { DTYPE_SIZE, elementCount, type DType } from '../tensor/dtype.js';
import { EXTERNAL, int64ToNumber, ONNX_DTYPES, onnxTypes, type ModelProto, type TensorProto } from './onnx-schema.js';
import { unsupportedTypeProblem } from '../tensor/quantization.js';
import { fileRangeReader, memoryReader, type TensorSource } from '../tensor/tensor-source.js';

/** The model file name looked for in an input directory. */
export const ONNX_FILE = 'model.onnx';

/** Where an initializer's bytes live in an external data file. */
export interface ExternalLocation {
  location: string;
  path: string;
  offset: number;
  length: number;
}

/** One initializer of one input, validated. */
export interface OnnxInitializer {
  name: string;
  dtype: DType;
  shape: number[];
  byteLength: number;
  proto: TensorProto;
  /** Set when the bytes are in an external file. */
  external?: ExternalLocation;
  /** Set when the bytes are inside the model file. */
  data?: Uint8Array;
}

/** One decoded, validated ONNX input. */
export interface OnnxModel {
  label: string;
  path: string;
  model: ModelProto;
  initializers: OnnxInitializer[];
  /** External data files referenced (absolute paths), for hashing and reading. */
  externalFiles: string[];
}

/** The .onnx file an input names: the path itself, or `model.onnx` in a directory; undefined if none. */
export function onnxPathOf(input: string): string | undefined {
  if (input.endsWith('.onnx') && existsSync(input) && statSync(input).isFile()) return input;
  const inDir = join(input, ONNX_FILE);
  return existsSync(inDir) ? inDir : undefined;
}

/** Reads and decodes `path`, validating every initializer's storage against its dtype and shape. */
export async function openOnnxModel(path: string, label: string): Promise<OnnxModel> {
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw errors.merge(label, undefined, `cannot read ${path}: ${e.code ?? e.message}`);
  });
  let model: ModelProto;
  try {
    model = onnxTypes().ModelProto.decode(bytes) as unknown as ModelProto;
  } catch (e) {
    throw errors.merge(label, undefined, `${path} is not a valid ONNX model (${(e as Error).message}); truncated or corrupt?`);
  }
  if (!model.graph) throw errors.merge(label, undefined, `${path} has no graph; not an ONNX model?`);
  // External data may only come from where the model is: the directory as given or, when model.onnx
  // is itself a link (a Hugging Face cache snapshot, a directory of links), the one it really lives in.
  const modelDirs = [...new Set([dirname(path), dirname(realpathSync(path))].map((d) => realpathSync(d)))];
  const initializers = model.graph.initializer.map((proto) => describeInitializer(proto, path, modelDirs, label));
  const externalFiles = [...new Set(initializers.flatMap((t) => (t.external ? [t.external.path] : [])))];
  return { label, path, model, initializers, externalFiles };
}

function describeInitializer(proto: TensorProto, modelPath: string, modelDirs: string[], label: string): OnnxInitializer {
  const name = proto.name;
  const fail = (problem: string) => errors.merge(label, name, `${modelPath}: ${problem}`);
  const type = ONNX_DTYPES[proto.data_type];
  if (!type?.dtype) throw fail(unsupportedTypeProblem(type?.onnx ?? `data_type ${proto.data_type}`));
  const dtype = type.dtype;
  if (proto.segment) throw fail('segmented tensors are not supported');
  const shape = proto.dims.map((d) => int64ToNumber(d, (problem) => fail(`dimension ${problem}`)));
  if (shape.some((d) => d < 0)) throw fail(`negative dimension in [${shape.join(', ')}]`);
  const count = elementCount(shape);
  const byteLength = count * DTYPE_SIZE[dtype];
  const base = { name, dtype, shape, byteLength, proto };
  if (proto.data_location === EXTERNAL) return { ...base, external: externalLocation(proto, modelPath, modelDirs, byteLength, fail) };
  if (proto.raw_data && proto.raw_data.length > 0) {
    if (proto.raw_data.length !== byteLength) {
      throw fail(`raw_data holds ${proto.raw_data.length} bytes but ${type.onnx}[${shape.join(', ')}] needs ${byteLength}`);
    }
    return { ...base, data: proto.raw_data };
  }
  return { ...base, data: typedFieldBytes(proto, dtype, count, fail) };
}

/** Whether a relative path leaves the directory it is relative to. */
function leaves(rel: string): boolean {
  return isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`);
}

function externalLocation(
  proto: TensorProto,
  modelPath: string,
  modelDirs: string[],
  byteLength: number,
  fail: (p: string) => Error,
): ExternalLocation {
  const entries = new Map(proto.external_data.map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (!location) throw fail('external data without a "location" entry');
  const clean = normalize(location);
  if (leaves(clean)) {
    throw fail(`external data location '${location}' must stay inside the model's directory`);
  }
  const path = join(dirname(modelPath), clean);
  const offset = Number(entries.get('offset') ?? 0);
  const length = Number(entries.get('length') ?? byteLength);
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length)) {
    throw fail(`external data offset '${entries.get('offset')}' / length '${entries.get('length')}' are not byte counts`);
  }
  if (length !== byteLength) throw fail(`external data length ${length} differs from the ${byteLength} bytes the shape needs`);
  // The location is checked as text above; a link (data.bin -> /etc/passwd, or a linked folder on
  // the way) can still lead out, and its bytes would be copied into the output: check the real path.
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw fail(`external data file ${path} is missing`);
  }
  if (modelDirs.every((dir) => leaves(relative(dir, real)))) {
    throw fail(`external data file ${path} resolves to ${real}, outside the model's directory (${modelDirs.join(' or ')}); refusing to read it`);
  }
  const stats = statSync(real);
  if (!stats.isFile()) throw fail(`external data file ${path} is not a regular file`);
  const size = stats.size;
  if (offset + length > size) {
    throw fail(`external data [${offset}, ${offset + length}) runs past the end of ${path} (${size} bytes; truncated?)`);
  }
  return { location: clean, path, offset, length };
}

/** Bytes of a tensor stored in the typed repeated fields (ONNX stores f16/bf16/int8/bool bit patterns in int32_data). */
function typedFieldBytes(proto: TensorProto, dtype: DType, count: number, fail: (p: string) => Error): Uint8Array {
  const check = (field: string, values: ArrayLike<unknown>) => {
    if (values.length !== count) throw fail(`${field} holds ${values.length} values but the shape needs ${count} (or the data is missing)`);
  };
  const long = (v: TensorProto['int64_data'][number]) => BigInt(typeof v === 'number' ? v : v.toString());
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (dtype) {
    case 'F32':
      check('float_data', proto.float_data);
      return view(Float32Array.from(proto.float_data));
    case 'F64':
      check('double_data', proto.double_data);
      return view(Float64Array.from(proto.double_data));
    case 'I32':
      check('int32_data', proto.int32_data);
      return view(Int32Array.from(proto.int32_data));
    case 'F16':
    case 'BF16':
    case 'I16':
    case 'U16':
      check('int32_data', proto.int32_data);
      return view(Uint16Array.from(proto.int32_data, (v) => v & 0xffff));
    case 'I8':
    case 'U8':
    case 'BOOL':
      check('int32_data', proto.int32_data);
      return view(Uint8Array.from(proto.int32_data, (v) => v & 0xff));
    case 'I64':
      check('int64_data', proto.int64_data);
      return view(BigInt64Array.from(proto.int64_data, long));
    case 'U32':
      check('uint64_data', proto.uint64_data);
      return view(Uint32Array.from(proto.uint64_data, (v) => Number(long(v) & 0xffffffffn)));
    case 'U64':
      check('uint64_data', proto.uint64_data);
      return view(BigUint64Array.from(proto.uint64_data, (v) => BigInt.asUintN(64, long(v))));
  }
}

/** A TensorSource over an initializer; external data is read through `handles` (one per file, opened by the caller). */
export function onnxTensorSource(t: OnnxInitializer, handles: Map<string, FileHandle>): TensorSource {
  if (t.external) {
    const { path, offset, length } = t.external;
    return { ...t, read: fileRangeReader(handles.get(path)!, offset, length, { file: path, tensor: t.name }) };
  }
  return { ...t, read: memoryReader(t.data ?? new Uint8Array(0)) };
}
