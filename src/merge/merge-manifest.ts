/**
 * The output warm.json. Starts from the output directory's existing manifest when there is one
 * (a curated model directory keeps its name, template, normalisation and description), else from
 * the first input's minus its `name`, `description` and `normalization` (those describe that
 * member, not the average) with the merge's own name and description, else from the defaults;
 * then lists the inputs as `members` and records `merge`. A
 * member's own normalisation is overridden with the identity when the merged model has none, so
 * that ensemble aggregates compare raw logits with raw logits.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { errors } from '../errors.js';
import { MANIFEST_FILE, ManifestSchema, type Manifest } from '../model/manifest.js';

async function readManifest(dir: string, label: string): Promise<Manifest | undefined> {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw errors.merge(label, undefined, `${path} is not valid JSON (${(e as Error).message})`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw errors.merge(label, undefined, `${path}: '${issue.path.join('.')}' ${issue.message}`);
  }
  return parsed.data;
}

/** The normalisation that serves raw logits, overriding a member's own. */
const IDENTITY = { mean: 0, std: 1 };

/**
 * The description of a fresh merge: what was averaged, from what. `selection`: the rule and the
 * number of candidates, when members were selected from more inputs.
 */
export function mergeDescription(members: readonly string[], method: unknown, selection?: { method: string; candidates: number }): string {
  const what =
    members.length === 1
      ? `the weights of ${members[0]}`
      : `the ${method === 'weighted' ? 'weighted' : 'uniform'} weight average of ${members.length} fine-tuned reward models (${members.join(', ')})`;
  const selected = selection && selection.method !== 'uniform' ? `, selected by ${selection.method} from ${selection.candidates} candidates` : '';
  return `WARM merge: ${what}${selected}; see MERGE.md.`;
}

/**
 * The manifest for the merged model in `outDir`. A fresh merge is named `name` (`--name`), else
 * after the output directory, and described by mergeDescription; an existing manifest keeps its
 * name (unless `name` is given) and description.
 */
export async function mergedManifest(
  outDir: string,
  inputs: readonly { label: string; dir: string }[],
  merge: Record<string, unknown>,
  name?: string,
): Promise<Manifest> {
  const existing = await readManifest(outDir, outDir);
  let base: Manifest;
  if (existing) base = { ...existing, ...(name ? { name } : {}) };
  else {
    const first = await readManifest(inputs[0].dir, inputs[0].label);
    // The first input's name, description and normalization describe that member, not the average.
    const { name: _name, description: _description, normalization: _normalization, ...rest } = first ?? ManifestSchema.parse({});
    base = { ...rest, name: name ?? basename(outDir), description: mergeDescription(inputs.map((i) => basename(i.dir)), merge.method) };
  }
  const members = [];
  for (const input of inputs) {
    const own = await readManifest(input.dir, input.label);
    // serve --ensemble aggregates the members' rewards with the merged model's, so they must be in
    // its units. An uncalibrated merge serves raw logits; a member's own normalisation would put it
    // on another scale, so the identity overrides it (`merge --calibrate` then sets every one).
    const normalization = own?.normalization && (base.normalization ? own.normalization : IDENTITY);
    members.push({ name: basename(input.dir), path: relative(outDir, input.dir), ...(normalization ? { normalization } : {}) });
  }
  return ManifestSchema.parse({ ...base, members, merge });
}
