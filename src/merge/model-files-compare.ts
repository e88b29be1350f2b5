/**
 * The non-weight files of the inputs: config.json and tokenizer.json must agree (averaging
 * weights of different architectures or vocabularies gives nonsense), and the config and
 * tokenizer files of the first input are copied into the output.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonErrorPosition } from '../config/json-position.js';
import { errors } from '../errors.js';
import type { ModelInput } from './model-inputs.js';

/** config.json keys that describe the checkpoint file rather than the network (dtype is checked per tensor). */
const IGNORED_CONFIG_KEYS = new Set([
  '_name_or_path', 'transformers_version', 'torch_dtype', 'dtype', '_commit_hash', 'use_cache',
  '_attn_implementation', '_attn_implementation_autoset',
]);

/** Files copied from the first input: configs, tokenizers, chat templates. */
const COPIED = /^(?:config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|preprocessor_config)\.json$|^(?:vocab\.(?:txt|json)|merges\.txt|tokenizer\.model|spiece\.model|sentencepiece\.bpe\.model|chat_template\.(?:jinja|json))$/;

/** The path (a.b[2].c) of the first difference between two JSON values, or undefined when equal. */
export function firstDifference(a: unknown, b: unknown, path: string, ignore: ReadonlySet<string> = new Set()): string | undefined {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) return path || '(root)';
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path} (length ${b.length} vs ${a.length})`;
    for (let k = 0; k < a.length; k++) {
      const d = firstDifference(a[k], b[k], `${path}[${k}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (typeof a === 'object' && a !== null) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
    for (const k of keys) {
      if (ignore.has(k)) continue;
      const d = firstDifference(ao[k], bo[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : path || '(root)';
}

async function readJson(input: ModelInput, file: string): Promise<unknown | undefined> {
  const path = join(input.dir, file);
  if (!existsSync(path)) return undefined;
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw errors.merge(input.label, undefined, `cannot read ${file}: ${e.code ?? e.message}`);
  });
  try {
    return JSON.parse(text);
  } catch {
    // Position only: the parser's message can quote the file.
    throw errors.merge(input.label, undefined, `${file} is not valid JSON at ${jsonErrorPosition(text)}`);
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? 'absent';
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(root: unknown, path: string): unknown {
  let v: unknown = root;
  for (const part of path.split(/\.|\[(\d+)\]/).filter((p) => p)) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

/** Refuses inputs whose config.json (network keys) or tokenizer.json differ from the first input's. */
export async function compareModelFiles(inputs: readonly ModelInput[]): Promise<void> {
  for (const [file, ignore, what] of [
    ['config.json', IGNORED_CONFIG_KEYS, 'architecture'],
    ['tokenizer.json', new Set<string>(), 'tokenizer'],
  ] as const) {
    const reference = await readJson(inputs[0], file);
    for (const input of inputs.slice(1)) {
      const other = await readJson(input, file);
      if ((reference === undefined) !== (other === undefined)) {
        throw errors.merge(input.label, undefined, `${file} is ${other === undefined ? 'missing' : 'present'} here but ${reference === undefined ? 'missing' : 'present'} in the first input (${inputs[0].label})`);
      }
      const d = firstDifference(reference, other, '', ignore);
      if (d) {
        const key = d.replace(/ \(.*$/, '');
        throw errors.merge(
          input.label,
          undefined,
          `${file} differs from the first input's at '${d}' (${show(valueAt(other, key))} vs ${show(valueAt(reference, key))}): different ${what}s cannot be averaged`,
        );
      }
    }
  }
}

/** Config and tokenizer files of `input` to copy into the output. */
export function copiedFiles(input: ModelInput): string[] {
  return readdirSync(input.dir).filter((f) => COPIED.test(f)).sort();
}
