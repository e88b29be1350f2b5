/**
 * Split files: which rows of which data file belong to which split, e.g.
 * `models/recipe/splits.json` = `{"hh-rlhf/helpful-base/test.jsonl.gz": {"train": [...], "validation": [...]}, ...}`.
 * Keys are paths relative to the data root; a data file matches the key its path ends with.
 */
import { readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { z } from 'zod';
import { errors } from '../errors.js';

const SplitFileSchema = z.record(z.string(), z.record(z.string(), z.array(z.number().int().nonnegative())));

/** A `FILE:NAME` split selection, loaded. */
export interface SplitSelection {
  file: string;
  name: string;
  /** Rows of `name` per data-file key. */
  rows: Map<string, ReadonlySet<number>>;
}

/** Parse and load `--split FILE:NAME`. */
export async function loadSplit(spec: string): Promise<SplitSelection> {
  const at = spec.lastIndexOf(':');
  if (at <= 0 || at === spec.length - 1) {
    throw errors.validation('--split', `'${spec}' is not FILE:NAME (for example models/recipe/splits.json:validation)`);
  }
  const file = spec.slice(0, at);
  const name = spec.slice(at + 1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw errors.validation('--split', `cannot read split file ${file}: ${(err as Error).message}`);
  }
  const checked = SplitFileSchema.safeParse(parsed);
  if (!checked.success) {
    throw errors.validation('--split', `${file} must map data paths to {split name: [row indexes]}`);
  }
  const rows = new Map<string, ReadonlySet<number>>();
  for (const [key, splits] of Object.entries(checked.data)) {
    if (splits[name]) rows.set(key, new Set(splits[name]));
  }
  if (rows.size === 0) throw errors.validation('--split', `${file} has no split named '${name}'`);
  return { file, name, rows };
}

/**
 * The rows of `dataFile` in the selection; an error naming `option` (the flag that gave the file:
 * `--data`, `--calibrate`) when the split file has none for it.
 */
export function rowsFor(selection: SplitSelection, dataFile: string, option = '--data'): ReadonlySet<number> {
  const path = resolve(dataFile).split(sep).join('/');
  for (const [key, rows] of selection.rows) {
    if (path === key || path.endsWith(`/${key}`)) return rows;
  }
  const known = [...selection.rows.keys()].join(', ');
  throw errors.validation(
    option,
    `${dataFile} has no '${selection.name}' rows in ${selection.file} (--split ${selection.file}:${selection.name} applies to every ${option} file; files with that split: ${known})`,
  );
}
