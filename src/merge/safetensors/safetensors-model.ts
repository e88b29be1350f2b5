/**
 * An HF-style safetensors checkpoint in a directory: `model.safetensors`, or shards listed by
 * `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard file}}`).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errors } from '../../errors.js';
import { readSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader } from './safetensors-file.js';

/** The single-file checkpoint name. */
export const SAFETENSORS_FILE = 'model.safetensors';
/** The shard index name. */
export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

/** One input's safetensors checkpoint: its shards (one for a single file) and index, if sharded. */
export interface SafetensorsModel {
  label: string;
  dir: string;
  shards: SafetensorsHeader[];
  /** The parsed index JSON when the checkpoint is sharded. */
  index?: { metadata?: Record<string, unknown>; weight_map: Record<string, string> };
}

/** A tensor entry together with the shard it lives in. */
export interface LocatedTensor {
  shard: SafetensorsHeader;
  entry: SafetensorsEntry;
}

/** Whether `dir` holds a safetensors checkpoint. */
export function hasSafetensors(dir: string): boolean {
  return existsSync(join(dir, SAFETENSORS_FILE)) || existsSync(join(dir, SAFETENSORS_INDEX));
}

/** Opens and validates the checkpoint in `dir` (headers only; data is read later, tensor by tensor). */
export async function openSafetensorsModel(dir: string, label: string): Promise<SafetensorsModel> {
  if (existsSync(join(dir, SAFETENSORS_FILE))) {
    return { label, dir, shards: [await readSafetensorsHeader(join(dir, SAFETENSORS_FILE), label)] };
  }
  const indexPath = join(dir, SAFETENSORS_INDEX);
  let index: SafetensorsModel['index'];
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (e) {
    throw errors.merge(label, undefined, `${indexPath}: cannot read the shard index (${(e as Error).message})`);
  }
  const weightMap = index?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null) {
    throw errors.merge(label, undefined, `${indexPath}: has no "weight_map" object`);
  }
  const files = [...new Set(Object.values(weightMap))];
  for (const f of files) {
    if (typeof f !== 'string' || basename(f) !== f) {
      throw errors.merge(label, undefined, `${indexPath}: shard name ${JSON.stringify(f)} must be a file name in the same directory`);
    }
  }
  const shards = await Promise.all(files.map((f) => readSafetensorsHeader(join(dir, f), label)));
  const model: SafetensorsModel = { label, dir, shards, index };
  const located = locateTensors(model);
  for (const [name, file] of Object.entries(weightMap)) {
    const found = located.get(name);
    if (!found) throw errors.merge(label, name, `${indexPath}: the index maps it to ${file} but no shard holds it`);
    if (basename(found.shard.path) !== file) {
      throw errors.merge(label, name, `${indexPath}: the index maps it to ${file} but it is in ${basename(found.shard.path)}`);
    }
  }
  for (const name of located.keys()) {
    if (!Object.hasOwn(weightMap, name)) throw errors.merge(label, name, `${indexPath}: a shard holds it but the index does not list it`);
  }
  return model;
}

/** Every tensor by name, in shard then header order; a name in two shards is refused. */
export function locateTensors(model: SafetensorsModel): Map<string, LocatedTensor> {
  const byName = new Map<string, LocatedTensor>();
  for (const shard of model.shards) {
    for (const entry of shard.tensors) {
      const other = byName.get(entry.name);
      if (other) throw errors.merge(model.label, entry.name, `stored twice, in ${other.shard.path} and ${shard.path}`);
      byName.set(entry.name, { shard, entry });
    }
  }
  return byName;
}

/** Files that make up the checkpoint (for hashing), index first. */
export function safetensorsFiles(model: SafetensorsModel): string[] {
  return [...(model.index ? [join(model.dir, SAFETENSORS_INDEX)] : []), ...model.shards.map((s) => s.path)];
}
