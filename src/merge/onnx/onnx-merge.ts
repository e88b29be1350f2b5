/**
 * Averages M ONNX models with identical graphs: every float initializer is averaged, integer ones
 * copied, and the first input's ModelProto is written back, as model.onnx, with the new initializers. Tensors the
 * first input kept in external data go to external data files of the same names in the output
 * (written as a stream); the others are embedded as raw_data.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { errors } from '../../errors.js';
import { averageTensor } from '../tensor/average-tensor.js';
import { DistanceAccumulator } from '../tensor/distance.js';
import { isFloat } from '../tensor/dtype.js';
import { FileAppender } from '../tensor/file-appender.js';
import type { FormatMergeResult, MergeContext } from '../merge-context.js';
import { checkOnnxSupported, compareOnnxGraphs } from './onnx-graph-compare.js';
import { ONNX_FILE, onnxTensorSource, type OnnxInitializer, type OnnxModel } from './onnx-model.js';
import { EXTERNAL, onnxTypes, type TensorProto } from './onnx-schema.js';
import { compareTensorLists } from '../tensor/tensor-compare.js';

/** Validated ONNX inputs, ready to write. */
export interface OnnxPlan {
  models: OnnxModel[];
  /** Per input: initializers by name. */
  byName: Map<string, OnnxInitializer>[];
  inputBytes: number;
}

/** Checks that the inputs are the same unquantized graph with the same initializers. */
export function planOnnxMerge(models: OnnxModel[]): OnnxPlan {
  models.forEach(checkOnnxSupported);
  compareOnnxGraphs(models);
  compareTensorLists(models.map((m) => m.label), models.map((m) => m.initializers));
  const byName = models.map((m) => new Map(m.initializers.map((t) => [t.name, t])));
  const inputBytes = models[0].initializers.reduce((n, t) => n + t.byteLength, 0) * models.length;
  return { models, byName, inputBytes };
}

/** Writes the averaged model (and its external data) into the staging area. */
export async function writeOnnxMerge(plan: OnnxPlan, ctx: MergeContext): Promise<FormatMergeResult> {
  const { models, byName } = plan;
  const first = models[0];
  const modelName = ONNX_FILE;
  const distances = new DistanceAccumulator(models.length);
  const result: FormatMergeResult = { format: 'onnx', files: [modelName], averaged: 0, copied: 0, bytes: 0, distances: [] };
  const inputHandles = new Map<string, FileHandle>();
  const outputs = new Map<string, { handle: FileHandle; appender: FileAppender }>();
  ctx.progress.start('onnx', first.initializers.length, plan.inputBytes);
  try {
    // one handle per file: the same input may be given twice
    for (const m of models) for (const f of m.externalFiles) if (!inputHandles.has(f)) inputHandles.set(f, await open(f, 'r'));
    const merged: TensorProto[] = [];
    for (const t of first.initializers) {
      const sources = models.map((_, i) => onnxTensorSource(byName[i].get(t.name)!, inputHandles));
      const proto: TensorProto = {
        ...pick(t.proto),
        float_data: [], int32_data: [], int64_data: [], double_data: [], uint64_data: [], string_data: [], external_data: [],
      };
      let write: (bytes: Uint8Array) => Promise<void>;
      if (t.external) {
        const location = t.external.location;
        let out = outputs.get(location);
        if (!out) {
          const handle = await open(ctx.stage.path(location), 'w');
          out = { handle, appender: new FileAppender(handle) };
          outputs.set(location, out);
          result.files.push(location);
        }
        const appender = out.appender;
        proto.data_location = EXTERNAL;
        proto.external_data = [
          { key: 'location', value: location },
          { key: 'offset', value: String(appender.position) },
          { key: 'length', value: String(t.byteLength) },
        ];
        write = (bytes) => appender.write(bytes);
      } else {
        const data = Buffer.alloc(t.byteLength);
        let at = 0;
        proto.raw_data = data;
        write = async (bytes) => {
          data.set(bytes, at);
          at += bytes.length;
        };
      }
      await averageTensor({
        labels: ctx.labels, sources, weights: ctx.weights, buffers: ctx.buffers, distances, write,
        progress: (n) => ctx.progress.addBytes(n),
      });
      merged.push(proto);
      result.bytes += t.byteLength;
      if (isFloat(t.dtype)) result.averaged += 1;
      else result.copied += 1;
      ctx.progress.tensorDone();
    }
    const model = first.model;
    model.graph!.initializer = merged;
    const provenanceKeys = new Set(Object.keys(ctx.provenance));
    model.metadata_props = [
      ...model.metadata_props.filter((p) => !provenanceKeys.has(p.key)),
      ...Object.entries(ctx.provenance).map(([key, value]) => ({ key, value })),
    ];
    let encoded: Uint8Array;
    try {
      encoded = onnxTypes().ModelProto.encode(model).finish();
    } catch (e) {
      throw errors.merge(first.label, undefined, `cannot encode the merged ONNX model (${(e as Error).message}); models over 2 GiB need external data`);
    }
    await ctx.stage.writeFile(modelName, encoded);
  } finally {
    await Promise.all([...inputHandles.values(), ...[...outputs.values()].map((o) => o.handle)].map((h) => h.close()));
    ctx.progress.end();
  }
  result.distances = distances.relative();
  return result;
}

/** The identity fields of an initializer (data fields are rebuilt). */
function pick(p: TensorProto): Pick<TensorProto, 'name' | 'dims' | 'data_type'> & { doc_string?: string } {
  const doc = (p as { doc_string?: string }).doc_string;
  return { name: p.name, dims: p.dims, data_type: p.data_type, ...(doc ? { doc_string: doc } : {}) };
}
