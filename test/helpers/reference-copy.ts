/** Scratch copies of the shipped reference model, for tests that edit or break its files. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

/** models/reference, the shipped reference model directory. */
export const REFERENCE = fileURLToPath(new URL('../../models/reference', import.meta.url));

export interface CopyOptions {
  /** The copy's folder name (the model's default name when warm.json has none). Default 'rm'. */
  name?: string;
  /** Copy members/ too (one ONNX model per member). Default false. */
  members?: boolean;
}

/**
 * Copy the reference model without its *.safetensors weights (serving reads model.onnx) into
 * `<temp>/<name>`, removed when `t` ends; resolves with the copy's path.
 */
export async function referenceCopy(t: Test, { name = 'rm', members = false }: CopyOptions = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'warm-reference-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, name);
  const membersDir = join(REFERENCE, 'members');
  await cp(REFERENCE, dir, {
    recursive: true,
    filter: (src) => !src.endsWith('.safetensors') && (members || (src !== membersDir && !src.startsWith(membersDir + sep))),
  });
  return dir;
}

/** Rewrite a JSON file (a copy's warm.json, config.json, ...) with `change` applied. */
export async function editJson(file: string, change: (json: Record<string, any>) => void): Promise<void> {
  const json = JSON.parse(await readFile(file, 'utf8'));
  change(json);
  await writeFile(file, JSON.stringify(json));
}
