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
 *
 * Start-up warnings (`warnings`, logged by `serve`): when warm.json does not set ensure_eos (or
 * there is no warm.json), the model names an EOS token (tokenizer_config eos_token or config
 * eos_token_id) and tokenizer.json's post-processor does not append it, items are scored without
 * a final EOS. A model trained with EOS appended (models/reference: "ensure_eos": true) then
 * scores differently from how it was trained, silently; setting ensure_eos either way in
 * warm.json is the fix and silences the warning.
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
  /** warm.json head_weights: reward = head_weights · the graph's output row (undefined: column 0). */
  headWeights?: readonly number[];
  /** warm.json head_names, one per output column. */
  headNames?: readonly string[];
  /** Ways the directory may be served differently from how its model was trained, with what to do (see above). */
  warnings: string[];
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

/** An EOS token by content (tokenizer_config.json) and/or id (config.json). */
interface EosToken {
  content?: string;
  id?: number;
}

const record = (value: unknown): Record<string, any> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, any>) : undefined;

/**
 * Whether a tokenizer.json post_processor ends a single sequence with `eos`: TemplateProcessing
 * whose `single` template ends with it, Roberta/BertProcessing whose `sep` it is, or a Sequence
 * holding one of those. Anything else (none, ByteLevel, an unknown shape) appends nothing.
 */
export function postProcessorAppends(processor: unknown, eos: EosToken): boolean {
  const p = record(processor);
  const isEos = (content: unknown, id: unknown) => (eos.content !== undefined && content === eos.content) || (eos.id !== undefined && id === eos.id);
  switch (p?.type) {
    case 'TemplateProcessing': {
      const single: unknown = p.single;
      const name = Array.isArray(single) ? record(record(single.at(-1))?.SpecialToken)?.id : undefined;
      if (typeof name !== 'string') return false;
      const special = record(record(p.special_tokens)?.[name]);
      const tokens: unknown[] = Array.isArray(special?.tokens) ? special.tokens : [name];
      const ids: unknown[] = Array.isArray(special?.ids) ? special.ids : [];
      return isEos(tokens.at(-1), ids.at(-1));
    }
    case 'RobertaProcessing':
    case 'BertProcessing':
      return Array.isArray(p.sep) && isEos(p.sep[0], p.sep[1]);
    case 'Sequence':
      return Array.isArray(p.processors) && p.processors.some((inner: unknown) => postProcessorAppends(inner, eos));
    default:
      return false;
  }
}

/** The ensure_eos warning for a directory whose warm.json leaves ensure_eos unset (see the header). */
async function ensureEosWarning(path: string, hasManifest: boolean, eos: EosToken): Promise<string | undefined> {
  if (eos.content === undefined && eos.id === undefined) return undefined; // nothing to append
  let tokenizerJson: unknown;
  try {
    tokenizerJson = JSON.parse(await readFile(join(path, 'tokenizer.json'), 'utf8'));
  } catch {
    return undefined; // the tokenizer load reports an unreadable tokenizer.json
  }
  if (postProcessorAppends(record(tokenizerJson)?.post_processor, eos)) return undefined;
  const token = eos.content !== undefined ? `'${eos.content}'` : `id ${eos.id}`;
  const where = hasManifest ? `${MANIFEST_FILE} does not set ensure_eos` : `there is no ${MANIFEST_FILE}`;
  return (
    `${where} and tokenizer.json does not append the EOS token ${token}, so items are scored without a final EOS; ` +
    `a model trained with EOS appended (as models/reference was) scores differently without it. ` +
    `Set "ensure_eos" in ${join(path, MANIFEST_FILE)}: true to append EOS as in training, false to score items as they are (either silences this warning)`
  );
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
  const ensureEosSet = record(manifestJson)?.ensure_eos !== undefined;
  const { head_weights: headWeights, head_names: headNames } = manifest;
  if (headWeights && headNames && headWeights.length !== headNames.length) {
    throw errors.model(manifestFile, `head_weights has ${headWeights.length} weights but head_names names ${headNames.length} heads; give one weight per head`);
  }

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
  const eosToken = tokenContent(tokenizerConfig.eos_token);
  const configEosTokenId = Array.isArray(eosIds) ? eosIds[0] : (eosIds ?? undefined);
  const warnings: string[] = [];
  if (!ensureEosSet) {
    const warning = await ensureEosWarning(path, hasManifest, { content: eosToken, id: eosToken === undefined ? configEosTokenId : undefined });
    if (warning) warnings.push(warning);
  }

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
    eosToken,
    padToken: tokenContent(tokenizerConfig.pad_token),
    configPadTokenId: config.pad_token_id ?? undefined,
    configEosTokenId,
    normalization: manifest.normalization,
    headWeights,
    headNames,
    warnings,
  };
}
