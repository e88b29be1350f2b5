/**
 * Preference-pair readers for `warm-serve eval`: OpenAI TL;DR comparisons, Anthropic HH-RLHF
 * chosen/rejected dialogues and a plain `{prompt, chosen, rejected}` format, all JSON Lines,
 * gzipped or not. Texts are built exactly as the reference recipe builds them
 * (models/recipe/README.md), so accuracy here measures the model on what it was trained on.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { ScoreInput } from '../scoring/types.js';
import { errors, WarmServeError } from '../errors.js';

/** One preference pair; `row` is its 0-based index among the file's non-blank lines (as in split files). */
export interface PreferencePair {
  row: number;
  chosen: ScoreInput;
  rejected: ScoreInput;
}

/** The formats a row can be in, detected per row. */
export type PairFormat = 'tldr' | 'hh' | 'plain';

const HH_ASSISTANT = '\n\nAssistant:';

/** Split an HH-RLHF dialogue into the prompt (through the last Assistant tag) and the answer. */
export function splitDialogue(text: string): { prompt: string; completion: string } {
  const at = text.lastIndexOf(HH_ASSISTANT);
  if (at < 0) return { prompt: '', completion: text };
  const end = at + HH_ASSISTANT.length;
  return { prompt: text.slice(0, end), completion: text.slice(end) };
}

/** The TL;DR prompt, as in Stiennon et al. and the recipe. */
export function tldrPrompt(info: { subreddit?: string; title?: string; post: string }): string {
  return `SUBREDDIT: r/${info.subreddit ?? ''}\nTITLE: ${info.title ?? ''}\nPOST: ${info.post}\n\nTL;DR:`;
}

function isString(x: unknown): x is string {
  return typeof x === 'string';
}

/** Turn one parsed JSON row into a pair, or explain why it cannot be one. */
export function rowToPair(row: unknown, index: number): { pair: PreferencePair; format: PairFormat } | string {
  if (typeof row !== 'object' || row === null) return 'row is not a JSON object';
  const r = row as Record<string, unknown>;
  if (Array.isArray(r.summaries) && (r.choice === 0 || r.choice === 1)) {
    const info = r.info as { post?: unknown; title?: unknown; subreddit?: unknown } | undefined;
    const summaries = r.summaries as { text?: unknown }[];
    const post = info?.post ?? (info as { article?: unknown } | undefined)?.article;
    if (!isString(post) || summaries.length !== 2 || !summaries.every((s) => isString(s?.text))) {
      return 'TL;DR row needs info.post and two summaries[].text';
    }
    const prompt = tldrPrompt({
      post,
      title: isString(info?.title) ? info.title : undefined,
      subreddit: isString(info?.subreddit) ? info.subreddit : undefined,
    });
    // The stored summaries start with a space; keep exactly one after "TL;DR:".
    const pick = (i: number) => ({ prompt, completion: ` ${(summaries[i].text as string).replace(/^ +/, '')}` });
    return { pair: { row: index, chosen: pick(r.choice), rejected: pick(1 - r.choice) }, format: 'tldr' };
  }
  if (isString(r.chosen) && isString(r.rejected)) {
    if (isString(r.prompt)) {
      return {
        pair: {
          row: index,
          chosen: { prompt: r.prompt, completion: r.chosen },
          rejected: { prompt: r.prompt, completion: r.rejected },
        },
        format: 'plain',
      };
    }
    return {
      pair: { row: index, chosen: splitDialogue(r.chosen), rejected: splitDialogue(r.rejected) },
      format: 'hh',
    };
  }
  return 'expected a TL;DR comparison {info, summaries, choice}, an HH-RLHF {chosen, rejected} or a {prompt, chosen, rejected} row';
}

function sameAnswer(a: ScoreInput, b: ScoreInput): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether the file starts with the gzip magic bytes. */
async function isGzip(fh: FileHandle): Promise<boolean> {
  const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
  return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
}

/** `no such file`, `is a directory`...: why `path` cannot be read, in one short phrase. */
export function unreadableReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory, not a file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (err as Error).message;
}

/**
 * Opens a pair file for reading, or throws a validation error naming `option` (`--data`,
 * `--calibrate`) and the file: the checks run before any model is loaded or file written.
 */
export async function openPairFile(path: string, option = '--data'): Promise<FileHandle> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    if (!(await fh.stat()).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    return fh;
  } catch (err) {
    await fh?.close();
    throw errors.validation(option, `cannot read ${path}: ${unreadableReason(err)}`);
  }
}

/** What reading one file gave: the pairs, and how many rows were dropped as identical answers. */
export interface PairFile {
  path: string;
  pairs: PreferencePair[];
  formats: PairFormat[];
  droppedIdentical: number;
}

/**
 * Read a JSON Lines preference file (gzip detected from its magic bytes); errors name `option`,
 * the flag that gave the file.
 */
export async function readPairs(path: string, rows?: ReadonlySet<number>, option = '--data'): Promise<PairFile> {
  const fh = await openPairFile(path, option);
  let gzip: boolean;
  try {
    gzip = await isGzip(fh);
  } catch (err) {
    await fh.close();
    throw errors.validation(option, `cannot read ${path}: ${unreadableReason(err)}`);
  }
  // The handle's stream closes the handle when it ends, fails or is destroyed.
  const raw = fh.createReadStream({ start: 0 });
  let input: Readable = raw;
  if (gzip) {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    input = raw.pipe(gunzip);
  }
  const pairs: PreferencePair[] = [];
  const formats = new Set<PairFormat>();
  let droppedIdentical = 0;
  let index = -1;
  let lineNo = 0;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo += 1;
      if (line.trim() === '') continue;
      index += 1;
      if (rows && !rows.has(index)) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw errors.validation(option, `${path} line ${lineNo} is not valid JSON`);
      }
      const result = rowToPair(parsed, index);
      if (typeof result === 'string') throw errors.validation(option, `${path} line ${lineNo}: ${result}`);
      if (sameAnswer(result.pair.chosen, result.pair.rejected)) {
        droppedIdentical += 1;
        continue;
      }
      formats.add(result.format);
      pairs.push(result.pair);
    }
  } catch (err) {
    if (err instanceof WarmServeError) throw err;
    // A read error or a corrupt gzip stream, after the file opened.
    throw errors.validation(option, `cannot read ${path} after line ${lineNo}: ${unreadableReason(err)}`);
  } finally {
    input.destroy();
    raw.destroy();
  }
  return { path, pairs, formats: [...formats], droppedIdentical };
}
