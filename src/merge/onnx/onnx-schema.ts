/**
 * ONNX protobuf messages through protobufjs and the vendored onnx.proto (Apache-2.0, see
 * vendor/README.md), parsed at runtime with the proto's snake_case field names. The .proto sits in
 * vendor/ beside this module in src/ and is copied to the same place in dist/ by the build; the
 * second candidate path lets a dist/ build without the copy still find it in the source tree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { errors } from '../../errors.js';

const PROTO_CANDIDATES = [new URL('./vendor/onnx.proto', import.meta.url), new URL('../../../src/merge/onnx/vendor/onnx.proto', import.meta.url)];

/** A protobuf int64 as decoded by protobufjs: a Long object, or a number once set by us. */
export type Int64 = number | protobuf.Long;

/** onnx.StringStringEntryProto */
export interface StringStringEntry {
  key: string;
  value: string;
}

/** onnx.TensorProto (the fields the merger reads or writes). */
export interface TensorProto {
  name: string;
  dims: Int64[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data: number[];
  int32_data: number[];
  int64_data: Int64[];
  double_data: number[];
  uint64_data: Int64[];
  string_data: Uint8Array[];
  data_location?: number;
  external_data: StringStringEntry[];
  segment?: unknown;
}

/** onnx.AttributeProto (only what comparison messages need). */
export interface AttributeProto {
  name: string;
}

/** onnx.NodeProto */
export interface NodeProto {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  doc_string?: string;
}

/** onnx.ValueInfoProto */
export interface ValueInfoProto {
  name: string;
  doc_string?: string;
}

/** onnx.GraphProto */
export interface GraphProto {
  name?: string;
  node: NodeProto[];
  initializer: TensorProto[];
  sparse_initializer: unknown[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info: ValueInfoProto[];
}

/** onnx.OperatorSetIdProto */
export interface OperatorSetId {
  domain?: string;
  version: Int64;
}

/** onnx.ModelProto */
export interface ModelProto {
  ir_version?: Int64;
  opset_import: OperatorSetId[];
  producer_name?: string;
  graph?: GraphProto;
  metadata_props: StringStringEntry[];
  functions: unknown[];
}

/** The protobufjs message types used by the merger. */
export interface OnnxTypes {
  ModelProto: protobuf.Type;
  NodeProto: protobuf.Type;
  ValueInfoProto: protobuf.Type;
  TensorProto: protobuf.Type;
  FunctionProto: protobuf.Type;
}

let types: OnnxTypes | undefined;

/** Loads onnx.proto once. */
export function onnxTypes(): OnnxTypes {
  if (!types) {
    const url = PROTO_CANDIDATES.find((u) => existsSync(fileURLToPath(u)));
    if (!url) {
      const [installed, source] = PROTO_CANDIDATES.map((u) => fileURLToPath(u));
      throw errors.merge(installed, undefined, `the vendored ONNX schema is missing (also looked at ${source}); reinstall warm-serve, or run npm run build in a checkout`);
    }
    const { root } = protobuf.parse(readFileSync(url, 'utf8'), { keepCase: true });
    types = {
      ModelProto: root.lookupType('onnx.ModelProto'),
      NodeProto: root.lookupType('onnx.NodeProto'),
      ValueInfoProto: root.lookupType('onnx.ValueInfoProto'),
      TensorProto: root.lookupType('onnx.TensorProto'),
      FunctionProto: root.lookupType('onnx.FunctionProto'),
    };
  }
  return types;
}

/**
 * An int64 field as a JS number; refuses values beyond 2^53 (no real tensor is that big) with the
 * error `refuse` makes of the problem (the caller knows the input and tensor).
 */
export function int64ToNumber(v: Int64, refuse: (problem: string) => Error): number {
  const n = typeof v === 'number' ? v : Number(v.toString());
  if (!Number.isSafeInteger(n)) throw refuse(`${String(v)} is beyond 2^53; the file is corrupt or not a model warm-serve can merge`);
  return n;
}

/** TensorProto.DataType values and their merger dtypes (others are refused or unsupported). */
export const ONNX_DTYPES: Record<number, { onnx: string; dtype?: import('../tensor/dtype.js').DType }> = {
  1: { onnx: 'FLOAT', dtype: 'F32' },
  2: { onnx: 'UINT8', dtype: 'U8' },
  3: { onnx: 'INT8', dtype: 'I8' },
  4: { onnx: 'UINT16', dtype: 'U16' },
  5: { onnx: 'INT16', dtype: 'I16' },
  6: { onnx: 'INT32', dtype: 'I32' },
  7: { onnx: 'INT64', dtype: 'I64' },
  8: { onnx: 'STRING' },
  9: { onnx: 'BOOL', dtype: 'BOOL' },
  10: { onnx: 'FLOAT16', dtype: 'F16' },
  11: { onnx: 'DOUBLE', dtype: 'F64' },
  12: { onnx: 'UINT32', dtype: 'U32' },
  13: { onnx: 'UINT64', dtype: 'U64' },
  14: { onnx: 'COMPLEX64' },
  15: { onnx: 'COMPLEX128' },
  16: { onnx: 'BFLOAT16', dtype: 'BF16' },
  17: { onnx: 'FLOAT8E4M3FN' },
  18: { onnx: 'FLOAT8E4M3FNUZ' },
  19: { onnx: 'FLOAT8E5M2' },
  20: { onnx: 'FLOAT8E5M2FNUZ' },
  21: { onnx: 'UINT4' },
  22: { onnx: 'INT4' },
  23: { onnx: 'FLOAT4E2M1' },
};

/** TensorProto.DataLocation.EXTERNAL */
export const EXTERNAL = 1;
