/**
 * `warm-serve score`: score a JSON Lines file offline (a dataset to filter, rewards to inspect)
 * through the same formatting, tokenization, batching queue and inference as the server. The file
 * is streamed: a bounded window of requests is in flight, output lines keep the input order.
 */
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import type { Writable } from 'node:stream';
import { errors, fieldName, WarmServeError } from '../errors.js';
import { DEVICES, type Device } from '../model/device-names.js';
import { AGGREGATES, type Aggregate } from '../scoring/aggregate.js';
import { DEFAULT_MODEL_DIR } from '../config/schema.js';
import { BULK_CHUNK_SIZE, BULK_CONCURRENCY, OFFLINE_BATCHING } from '../scoring/bulk.js';
import { createScoringService } from '../scoring/service.js';
import type { ScoreInput, ScoredItem } from '../scoring/types.js';
import { ScoreItemSchema } from '../api/schemas.js';
import { validationMessage } from '../server/validation-message.js';

const HELP = `Usage: warm-serve score [--model DIR] [--input FILE] [--output FILE] [options]

Score a JSON Lines file offline with the server's formatting, tokenization and inference.

Each input line is one item, as in POST /v1/score:
  {"prompt": ..., "completion": ...} | {"messages": [{"role", "content"}, ...]} | {"text": ...}
Other fields (an id, labels) are copied to the output line, which adds:
  "reward", "truncated", "tokens"; with --return-members also "members", each member's reward
  as [{"name", "reward"}] in warm.json order (the server's members[k].rewards[i] for this item),
  and "uncertainty", their population variance.

Options:
  --model DIR          model directory (default: the bundled models/reference)
  --input FILE         JSON Lines, gzipped when the name ends in .gz (default: - = stdin)
  --output FILE        where to write JSON Lines (default: - = stdout)
  --ensemble           also load the members listed in warm.json (needed by the two below)
  --aggregate NAME     which reward "reward" holds: ${AGGREGATES.join('|')} (default: warm)
  --return-members     add each member's reward and their population variance
  --no-truncate        stop at an item longer than max_length instead of truncating it
  --device NAME        ${DEVICES.join('|')} (default: cpu)
  --threads N          onnxruntime intra-op threads (default: 0 = one per core)
  -h, --help           this help

Progress goes to stderr. Exit status: 0 done; 2 for bad arguments or a bad input line, named on
stderr (the lines before it are written); 1 when the model cannot load or a forward pass fails.
`;

const ITEM_FIELDS = ['prompt', 'completion', 'messages', 'text'] as const;

/** One input line: the item to score and the whole object to echo. */
interface Line {
  number: number;
  object: Record<string, unknown>;
  item: ScoreInput;
}

/** Parse and validate one input line; throws a validation error naming the line and field. */
function parseLine(text: string, number: number): Line {
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch (err) {
    throw errors.validation(`line ${number}`, `not JSON (${(err as Error).message})`);
  }
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw errors.validation(`line ${number}`, 'expected a JSON object, one item per line');
  }
  const record = object as Record<string, unknown>;
  const picked = Object.fromEntries(ITEM_FIELDS.filter((k) => k in record).map((k) => [k, record[k]]));
  const parsed = ScoreItemSchema.safeParse(picked);
  if (!parsed.success) {
    const entries = parsed.error.issues.map((issue) => ({
      keyword: issue.code,
      instancePath: issue.path.map((p) => `/${String(p)}`).join(''),
      message: issue.message,
      params: issue as unknown as Record<string, unknown>,
    }));
    // The item is the whole line: its root is the line, not `body`.
    throw errors.validation(`line ${number}`, validationMessage(entries).replace(/^body: /, ''));
  }
  return { number, object: record, item: parsed.data };
}

/**
 * Input lines in chunks of BULK_CHUNK_SIZE, blank lines skipped. A bad line ends the input: the lines
 * before it come as a last chunk carrying the error, so they are still scored and written.
 */
async function* chunks(input: NodeJS.ReadableStream): AsyncGenerator<{ lines: Line[]; error?: WarmServeError }> {
  let lines: Line[] = [];
  let number = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    number++;
    if (text.trim() === '') continue;
    try {
      lines.push(parseLine(text, number));
    } catch (error) {
      if (!(error instanceof WarmServeError)) throw error;
      yield { lines, error };
      return;
    }
    if (lines.length === BULK_CHUNK_SIZE) {
      yield { lines };
      lines = [];
    }
  }
  if (lines.length > 0) yield { lines };
}

function progress(): { update(done: number): void; finish(done: number): void } {
  const tty = process.stderr.isTTY;
  const start = performance.now();
  let last = Date.now();
  const line = (done: number) => {
    const s = (performance.now() - start) / 1000;
    return `score: ${done} items, ${s.toFixed(1)} s, ${(done / Math.max(s, 1e-3)).toFixed(0)} items/s`;
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - last < (tty ? 200 : 5000)) return;
      last = now;
      process.stderr.write(tty ? `\r${line(done)}` : `${line(done)}\n`);
    },
    finish(done) {
      process.stderr.write(tty ? `\r${line(done)}\n` : `${line(done)}\n`);
    },
  };
}

/** Print a catalogue error (and the help after a usage error); returns its exit status. */
function fail(err: WarmServeError, help?: string): number {
  process.stderr.write(`warm-serve score: ${err.message}\n${help ? `\n${help}` : ''}`);
  return err.exitCode;
}

const usageError = (problem: string): number => fail(errors.usage(problem), HELP);

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** Run the command; resolves with the exit status. */
export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string', default: DEFAULT_MODEL_DIR },
        input: { type: 'string', default: '-' },
        output: { type: 'string', default: '-' },
        ensemble: { type: 'boolean', default: false },
        aggregate: { type: 'string', default: 'warm' },
        'return-members': { type: 'boolean', default: false },
        'no-truncate': { type: 'boolean', default: false },
        device: { type: 'string', default: 'cpu' },
        threads: { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const aggregate = values.aggregate as Aggregate;
  if (!AGGREGATES.includes(aggregate)) return usageError(`--aggregate must be one of ${AGGREGATES.join(', ')} (got '${values.aggregate}')`);
  if (!DEVICES.includes(values.device as Device)) return usageError(`--device must be one of ${DEVICES.join(', ')} (got '${values.device}')`);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0) return usageError(`--threads must be an integer >= 0 (got '${values.threads}')`);
  const returnMembers = values['return-members'];
  if ((aggregate !== 'warm' || returnMembers) && !values.ensemble) {
    return usageError(`${aggregate !== 'warm' ? `--aggregate ${aggregate}` : '--return-members'} needs the members: add --ensemble`);
  }

  // Open both files before loading the model: a wrong path is a message, not a stream error.
  let raw: NodeJS.ReadableStream = process.stdin;
  let out: Writable = process.stdout;
  try {
    if (values.input !== '-') {
      raw = createReadStream(values.input);
      await once(raw, 'open');
    }
  } catch {
    return fail(errors.usage(`--input ${values.input}: no such readable file`));
  }
  try {
    if (values.output !== '-') {
      out = createWriteStream(values.output);
      await once(out, 'open');
    }
  } catch (err) {
    if (raw !== process.stdin) (raw as ReadStream).destroy();
    return fail(errors.usage(`--output ${values.output}: cannot write (${(err as NodeJS.ErrnoException).code})`));
  }
  const service = await createScoringService(values.model, {
    engine: { intraOpThreads: threads, device: values.device as Device },
    batching: OFFLINE_BATCHING,
    ensemble: values.ensemble,
  });
  const memberNames = service.info.ensemble?.members ?? [];
  /** What a line gains: the scored fields, each member's reward named as the server names it. */
  const outputFields = (item: ScoredItem) =>
    item.members === undefined ? item : { ...item, members: item.members.map((reward, k) => ({ name: memberNames[k], reward })) };
  const input = values.input.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (err: Error) => input.emit('error', err));
  const shown = progress();
  let done = 0;
  /** One chunk's output lines; `error`: the chunk stopped at a refused item, after `count` lines. */
  type Scored = { text: string; count: number; error?: WarmServeError };
  const scoreChunk = async (lines: Line[]): Promise<Scored> => {
    const opts = { truncate: !values['no-truncate'], aggregate, returnMembers };
    let items: ScoredItem[];
    try {
      items = (await service.score(lines.map((l) => l.item), opts)).items;
    } catch (err) {
      if (!(err instanceof WarmServeError)) throw err;
      if (err.index === undefined) return { text: '', count: 0, error: err };
      // An error about items[i] of this chunk: name the input line instead, and the flag rather
      // than the API field. The lines before it are still scored and written.
      const i = err.index;
      const within = err.path!.slice(2);
      const error = err.relabel({
        field: within.length > 0 ? `line ${lines[i].number}: ${fieldName(within)}` : `line ${lines[i].number}`,
        ...(err.fields.setting === 'max_length' ? { hint: 'shorten the item or drop --no-truncate to truncate it' } : {}),
      });
      return { ...(i > 0 ? await scoreChunk(lines.slice(0, i)) : { text: '', count: 0 }), error };
    }
    return { text: lines.map((l, k) => `${JSON.stringify({ ...l.object, ...outputFields(items[k]) })}\n`).join(''), count: lines.length };
  };
  const emit = async ({ text, count, error }: Scored) => {
    await write(out, text);
    done += count;
    shown.update(done);
    if (error) throw error;
  };
  const pending: ReturnType<typeof scoreChunk>[] = [];
  try {
    let badLine: WarmServeError | undefined;
    for await (const { lines, error } of chunks(input)) {
      if (lines.length > 0) {
        const scored = scoreChunk(lines);
        scored.catch(() => {}); // awaited in order below; this only keeps it from being unhandled meanwhile
        pending.push(scored);
        if (pending.length >= BULK_CONCURRENCY) await emit(await pending.shift()!);
      }
      badLine = error;
    }
    // In order: a chunk that fails stops the output there.
    for (const scored of pending) await emit(await scored);
    if (badLine) throw badLine;
    shown.finish(done);
    return 0;
  } catch (err) {
    if (!(err instanceof WarmServeError)) throw err;
    return fail(err);
  } finally {
    if (out !== process.stdout) await new Promise<void>((resolve) => out.end(() => resolve()));
    await service.drain(60_000);
  }
}
