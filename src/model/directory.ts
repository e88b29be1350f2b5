/**
 * The model-directory contract: what a reward-model directory must hold and how the service
 * reads it. A directory holds
 *
 *   config.json            HF model config (max_position_embeddings, pad/eos ids)
 *   tokenizer.json         HF fast tokenizer (loaded by the native `tokenizers` binding)
 *   tokenizer_config.json  special tokens, padding side, model_max_length, chat_template
 *   model.onnx             the graph (+ model.onnx_data when weights are stored externally)
 *   warm.json              optional manifest (src/model/manifest.ts)
 *
 * Defaults when warm.json is absent or silent:
 *   name          the directory's base name
 *   template      "{prompt}{completion}"
 *   max_length    tokenizer_config model_max_length when < 1e6 (HF writes ~1e30 for "unset"),
 *                 else config max_position_embeddings, else 512
 *   padding_side  tokenizer_config padding_side, else right
 *   ensure_eos    false
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { jsonErrorPosition } from '../config/json-position.js';
import { errors } from '../errors.js';
import { MANIFEST_FILE, ManifestSchema, type Manifest, type Normalization } from './manifest.js';

/** model_max_length at or above this means "unset" (transformers writes int(1e30)). */
const UNSET_MODEL_MAX_LENGTH = 1e6;
const FALLBACK_MAX_LENGTH = 512;

/** A special token as tokenizer_config.json writes it: a string or an AddedToken object. */
const SpecialToken = z.union([z.string(), z.looseObject({ content: z.string() })]).nullish();

/** The tokenizer_config.json fields the service reads; others are ignored. */
const TokenizerConfigSchema = z.looseObject({
  model_max_length: z.number().positive().optional(),
  padding_side: z.enum(['left', 'right']).optional(),
  chat_template: z.union([
    z.string(),
    z.array(z.looseObject({ name: z.string(), template: z.string() })),
  ]).nullish(),
  bos_token: SpecialToken,
  eos_token: SpecialToken,
  pad_token: SpecialToken,
});

/** The config.json fields the service reads; others are ignored. */
const ModelConfigSchema = z.looseObject({
  max_position_embeddings: z.number().int().positive().optional(),
  pad_token_id: z.number().int().nonnegative().nullish(),
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullish(),
});

/** A loaded, validated model directory with every default resolved. */
export interface ModelDirectory {
  /** Absolute path of the directory. */
  path: string;
  name: string;
  /** The manifest with zod defaults applied (an empty one when warm.json is absent). */
  manifest: Manifest;
  hasManifest: boolean;
  modelFile: string;
  tokenizerFile: string;
  tokenizerConfigFile: string;
  /** Most tokens per item, special tokens included. */
  maxLength: number;
  paddingSide: 'left' | 'right';
  ensureEos: boolean;
  template: string;
  /** tokenizer_config.json chat_template (the 'default' one when several are named). */
  chatTemplate?: string;
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  /** config.json pad_token_id, used when tokenizer_config has no pad_token. */
  configPadTokenId?: number;
  /** config.json eos_token_id (the first one when several). */
  configEosTokenId?: number;
  normalization?: Normalization;
}

/** Read and parse one JSON file, or fail with an error naming the file. */
async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw errors.model(file, code === 'ENOENT' ? `missing ${what}` : `cannot read ${what}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    // Position only: the parser's message can quote the file.
    throw errors.model(file, `${what} is not valid JSON at ${jsonErrorPosition(text)}`);
  }
}

/** Zod issues as "path: message; path: message", so users see which field is wrong. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, file: string, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw errors.model(file, `invalid ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function requireFile(file: string, what: string): Promise<void> {
  if (!(await isFile(file))) throw errors.model(file, `missing ${what}`);
}

function tokenContent(token: z.infer<typeof SpecialToken>): string | undefined {
  if (token == null) return undefined;
  return typeof token === 'string' ? token : token.content;
}

/** Load a model directory, validating every file the service needs. Throws errors.model. */
export async function loadModelDirectory(dir: string): Promise<ModelDirectory> {
  const path = resolve(dir);
  try {
    if (!(await stat(path)).isDirectory()) throw errors.model(path, 'not a directory');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw errors.model(path, 'no such directory');
    throw err;
  }

  const manifestFile = join(path, MANIFEST_FILE);
  const hasManifest = await isFile(manifestFile);
  const manifestJson = hasManifest ? await readJson(manifestFile, `manifest ${MANIFEST_FILE}`) : {};
  const manifest = parseWith(ManifestSchema, manifestJson, manifestFile, `manifest ${MANIFEST_FILE}`);

  const configFile = join(path, 'config.json');
  const config = parseWith(ModelConfigSchema, await readJson(configFile, 'config.json'), configFile, 'config.json');
  const tokenizerConfigFile = join(path, 'tokenizer_config.json');
  const tokenizerConfig = parseWith(
    TokenizerConfigSchema,
    await readJson(tokenizerConfigFile, 'tokenizer_config.json'),
    tokenizerConfigFile,
    'tokenizer_config.json',
  );
  const tokenizerFile = join(path, 'tokenizer.json');
  await requireFile(tokenizerFile, 'tokenizer.json (the HF fast tokenizer)');
  const modelFile = join(path, 'model.onnx');
  await requireFile(modelFile, 'model.onnx (the ONNX graph)');

  const modelMaxLength = tokenizerConfig.model_max_length;
  const maxLength =
    manifest.max_length ??
    (modelMaxLength !== undefined && modelMaxLength < UNSET_MODEL_MAX_LENGTH ? Math.floor(modelMaxLength) : undefined) ??
    config.max_position_embeddings ??
    FALLBACK_MAX_LENGTH;

  const templates = tokenizerConfig.chat_template;
  const chatTemplate = Array.isArray(templates)
    ? templates.find((t) => t.name === 'default')?.template
    : (templates ?? undefined);
  const eosIds = config.eos_token_id;

  return {
    path,
    name: manifest.name ?? basename(path),
    manifest,
    hasManifest,
    modelFile,
    tokenizerFile,
    tokenizerConfigFile,
    maxLength,
    paddingSide: manifest.padding_side ?? tokenizerConfig.padding_side ?? 'right',
    ensureEos: manifest.ensure_eos,
    template: manifest.template,
    chatTemplate,
    bosToken: tokenContent(tokenizerConfig.bos_token),
    eosToken: tokenContent(tokenizerConfig.eos_token),
    padToken: tokenContent(tokenizerConfig.pad_token),
    configPadTokenId: config.pad_token_id ?? undefined,
    configEosTokenId: Array.isArray(eosIds) ? eosIds[0] : (eosIds ?? undefined),
    normalization: manifest.normalization,
  };
}
