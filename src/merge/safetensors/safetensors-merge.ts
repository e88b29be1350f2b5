/**
 * Averages M safetensors checkpoints into one, laid out like the first input: the same shard
 * files (and index) with the same tensors in the same order, tied tensors sharing one range.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { errors } from '../../errors.js';
import { averageTensor } from '../tensor/average-tensor.js';
import { DistanceAccumulator } from '../tensor/distance.js';
import { isFloat } from '../tensor/dtype.js';
import { FileAppender } from '../tensor/file-appender.js';
import type { FormatMergeResult, MergeContext } from '../merge-context.js';
import { encodeSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader } from './safetensors-file.js';
import { locateTensors, SAFETENSORS_INDEX, type LocatedTensor, type SafetensorsModel } from './safetensors-model.js';
import { compareTensorLists } from '../tensor/tensor-compare.js';
import { fileRangeReader, type TensorSource } from '../tensor/tensor-source.js';

/** Validated inputs, ready to write. */
export interface SafetensorsPlan {
  models: SafetensorsModel[];
  located: Map<string, LocatedTensor>[];
  /** Input bytes to read (all inputs, tied storage once). */
  inputBytes: number;
  storageCount: number;
}

/** Storage identity of a tensor: tied tensors share it. */
function storageKey(t: LocatedTensor): string {
  return t.entry.end > t.entry.begin ? `${t.shard.path}\0${t.entry.begin}\0${t.entry.end}` : `\0empty\0${t.entry.name}`;
}

/** Checks that the inputs hold the same tensors with the same tying; throws a merge error otherwise. */
export function planSafetensorsMerge(models: SafetensorsModel[]): SafetensorsPlan {
  const labels = models.map((m) => m.label);
  const located = models.map(locateTensors);
  compareTensorLists(labels, located.map((l) => [...l.values()].map((t) => t.entry)));
  const firstKeys = new Map([...located[0].values()].map((t) => [t.entry.name, storageKey(t)]));
  const groupHead = new Map<string, string>();
  for (const [name, key] of firstKeys) if (!groupHead.has(key)) groupHead.set(key, name);
  for (let i = 1; i < models.length; i++) {
    for (const [name, key] of firstKeys) {
      const head = groupHead.get(key)!;
      if (head !== name && storageKey(located[i].get(name)!) !== storageKey(located[i].get(head)!)) {
        throw errors.merge(labels[i], name, `is tied to '${head}' (shares its bytes) in the first input but stored separately here`);
      }
    }
  }
  let inputBytes = 0;
  for (const key of groupHead.keys()) {
    const t = located[0].get(groupHead.get(key)!)!;
    inputBytes += (t.entry.end - t.entry.begin) * models.length;
  }
  return { models, located, inputBytes, storageCount: groupHead.size };
}

/** Writes the averaged checkpoint into the staging area; returns what it wrote. */
export async function writeSafetensorsMerge(plan: SafetensorsPlan, ctx: MergeContext): Promise<FormatMergeResult> {
  const { models, located } = plan;
  const distances = new DistanceAccumulator(models.length);
  const handles = new Map<string, FileHandle>();
  const result: FormatMergeResult = { format: 'safetensors', files: [], averaged: 0, copied: 0, bytes: 0, distances: [] };
  ctx.progress.start('safetensors', plan.storageCount, plan.inputBytes);
  try {
    // one handle per file: the same input may be given twice (e.g. a weighted merge with itself)
    for (const model of models) for (const shard of model.shards) if (!handles.has(shard.path)) handles.set(shard.path, await open(shard.path, 'r'));
    const source = (i: number, name: string): TensorSource => {
      const { shard, entry } = located[i].get(name)!;
      const length = entry.end - entry.begin;
      return { ...entry, byteLength: length, read: fileRangeReader(handles.get(shard.path)!, shard.dataStart + entry.begin, length, { file: shard.path, tensor: name }) };
    };
    const totalSizes: number[] = [];
    for (const shard of models[0].shards) {
      const name = basename(shard.path);
      const written = await writeShard(shard, name, source, ctx, distances, result);
      totalSizes.push(written);
      result.files.push(name);
    }
    if (models[0].index) {
      const index = {
        ...models[0].index,
        metadata: { ...models[0].index.metadata, total_size: totalSizes.reduce((a, b) => a + b, 0) },
      };
      await ctx.stage.writeFile(SAFETENSORS_INDEX, `${JSON.stringify(index, null, 2)}\n`);
      result.files.unshift(SAFETENSORS_INDEX);
    }
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
    ctx.progress.end();
  }
  result.distances = distances.relative();
  return result;
}

/** Writes one output shard mirroring `shard` of the first input; returns its data-section size. */
async function writeShard(
  shard: SafetensorsHeader,
  name: string,
  source: (input: number, tensor: string) => TensorSource,
  ctx: MergeContext,
  distances: DistanceAccumulator,
  result: FormatMergeResult,
): Promise<number> {
  // new contiguous offsets in the first input's data order; tied tensors keep sharing a range
  const byRange = new Map<string, SafetensorsEntry>();
  const ordered = [...shard.tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  const heads: SafetensorsEntry[] = [];
  const placed = new Map<string, SafetensorsEntry>();
  let offset = 0;
  for (const t of ordered) {
    const key = `${t.begin}:${t.end}`;
    const head = t.end > t.begin ? byRange.get(key) : undefined;
    if (head) {
      placed.set(t.name, { ...t, begin: placed.get(head.name)!.begin, end: placed.get(head.name)!.end });
      continue;
    }
    byRange.set(key, t);
    heads.push(t);
    placed.set(t.name, { ...t, begin: offset, end: offset + (t.end - t.begin) });
    offset += t.end - t.begin;
  }
  const metadata = { ...shard.metadata, ...ctx.provenance };
  const header = encodeSafetensorsHeader(metadata, shard.tensors.map((t) => placed.get(t.name)!));
  const handle = await open(ctx.stage.path(name), 'w');
  try {
    const out = new FileAppender(handle);
    await out.write(header);
    for (const head of heads) {
      await averageTensor({
        labels: ctx.labels,
        sources: ctx.labels.map((_, i) => source(i, head.name)),
        weights: ctx.weights,
        buffers: ctx.buffers,
        distances,
        write: (bytes) => out.write(bytes),
        progress: (n) => ctx.progress.addBytes(n),
      });
      if (isFloat(head.dtype)) result.averaged += 1;
      else result.copied += 1;
      ctx.progress.tensorDone();
    }
  } finally {
    await handle.close();
  }
  result.bytes += offset;
  return offset;
}
