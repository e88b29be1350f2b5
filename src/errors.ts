/**
 * The error catalogue: every error warm-serve reports, in ONE table (CATALOGUE) of error_type ->
 * HTTP status, CLI exit status, message template and hint, with when it happens (the README's
 * error table is generated from it: scripts/error-table.mjs). An error carries the structured
 * fields its template is rendered from (the field at fault, the item index, the limit...), so code
 * that needs them reads `err.fields` / `err.index` instead of parsing `err.message`, and code that
 * re-labels an error (a compatibility route naming its own list, the CLI naming the input line)
 * renders it again with other fields (`err.relabel(...)`, `ConfigError.withSources(...)`).
 *
 * Thrown anywhere (model loading, batching, routes, settings, CLI); the HTTP layer answers with
 * `{"error": message, "error_type": type, "request_id"}` and the status, a CLI command prints the
 * message and exits with the exit status. Nothing imports native code here.
 */

/**
 * A request field, setting or flag at fault: a name (`max_batch_tokens`, `--weights`, `body`) or a
 * path, where numbers are list indices (`['items', 3, 'messages']` is `items[3].messages`).
 */
export type FieldPath = string | readonly (string | number)[];

/** `['items', 3, 'messages']` -> `items[3].messages`; a name stays as it is. */
export function fieldName(field: FieldPath): string {
  if (typeof field === 'string') return field;
  let out = '';
  for (const segment of field) out += typeof segment === 'number' ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  return out;
}

/** One problem with the settings: which setting, where its value came from, what is wrong, the fix. */
export interface ConfigIssue {
  /** The setting (config-file key), e.g. `max_batch_tokens`; absent for a file or the command line as a whole. */
  setting?: string;
  /** Where it came from: `--port`, `env WARM_SERVE_PORT`, `config file /etc/serve.json`... */
  source?: string;
  problem: string;
  hint?: string;
}

/**
 * A field that broke a rule: the shape of validation_error and payload_too_large, so one can be
 * answered as the other (TEI answers an over-long input with 413). The message is
 * `field: problem`; without a problem it is made from the limit.
 */
export interface FieldProblem {
  /** Absent when the problem names its fields itself (several schema issues in one line). */
  field?: FieldPath;
  problem?: string;
  /** The limit broken, in `unit`s; `actual` is unknown for lists and nesting refused before parsing. */
  limit?: number;
  actual?: number;
  unit?: string;
  /** The setting or model property behind the limit, e.g. `max_length`. */
  setting?: string;
  hint?: string;
}

/** The types whose fields are a FieldProblem. */
export type FieldProblemType = 'validation_error' | 'payload_too_large';

const FIELD_PROBLEM_TYPES: ReadonlySet<ErrorType> = new Set<FieldProblemType>(['validation_error', 'payload_too_large']);

/** The structured fields of each error type: what its message template is rendered from. */
export interface ErrorFields {
  malformed_json: { detail: string };
  unauthorized: { detail: string };
  bad_request: { detail: string };
  unsupported_media_type: { contentType: string };
  validation_error: FieldProblem;
  payload_too_large: FieldProblem;
  overloaded: { reason: string; retryAfterSeconds: number };
  queue_timeout: { waitedMs: number; limitMs: number; retryAfterSeconds: number };
  not_ready: Record<string, never>;
  draining: Record<string, never>;
  not_found: { method: string; url: string };
  engine_error: { detail: string };
  client_closed: Record<string, never>;
  internal_error: { detail: string };
  model_error: { path: string; problem: string };
  merge_error: { input: string; tensor?: string; problem: string };
  /** `context` heads a list of several issues (`invalid configuration`). */
  config_error: { issues: readonly ConfigIssue[]; context?: string };
  usage_error: { problem: string; hint?: string };
}

/** The stable `error_type` of an error. */
export type ErrorType = keyof ErrorFields;

/** One row of the catalogue. */
interface CatalogueEntry<F> {
  /** HTTP status of the answer; absent for errors only a CLI command reports. */
  status?: number;
  /**
   * Exit status of a CLI command that fails with it: 2 for a problem with what the user gave, 1
   * otherwise; absent for errors only the server answers (1 should one reach a command).
   */
  exit?: 1 | 2;
  /** The message, from the error's fields. */
  message: (fields: F) => string;
  /** What to do, appended after "; " (absent, or undefined for these fields: the message says it). */
  hint?: string | ((fields: F) => string | undefined);
  /** Seconds for the Retry-After header (503s). */
  retryAfter?: (fields: F) => number;
  /** When it happens (README). */
  when: string;
  /** What to do, for the README, where `hint` depends on the case. */
  todo?: string;
}

const RETRY = 'the server keeps serving, retry the request';

/** The catalogue, in the order of the README's table. */
export const CATALOGUE: { readonly [T in ErrorType]: CatalogueEntry<ErrorFields[T]> } = {
  malformed_json: {
    status: 400,
    message: (f) => `request body is not valid JSON (${f.detail})`,
    hint: 'send one JSON object',
    when: "the body is not JSON (the message quotes the parser's error, with the position when it gives one, e.g. not for a body cut short), or is empty",
  },
  bad_request: {
    status: 400,
    message: (f) => f.detail,
    when: "a request the HTTP layer refuses for a reason not listed here, or a compatibility route's own rule (an empty `texts` list on `/rerank`)",
    todo: 'the message says what is wrong',
  },
  unauthorized: {
    status: 401,
    message: (f) => f.detail,
    hint: "send 'Authorization: Bearer <key>' with one of the server's API keys",
    when: 'the server has API keys and the request carries none, or one it does not accept (`WWW-Authenticate: Bearer realm="warm-serve"`)',
    todo: 'send `Authorization: Bearer <key>` (see [Authentication](operations.md#authentication))',
  },
  not_found: {
    status: 404,
    message: (f) => `no route ${f.method} ${f.url}`,
    hint: 'the API is POST /v1/score, POST /v1/rank, GET /v1/info (docs at GET /docs)',
    when: 'unknown method or path',
    todo: 'see `GET /docs`',
  },
  payload_too_large: {
    status: 413,
    exit: 2,
    message: fieldProblem,
    hint: (f) => f.hint,
    when: 'body over `body_limit_bytes`; more than `max_items_per_request` items or `max_completions_per_rank` completions; an item over `max_chars_per_item` characters or `max_ids_per_item` token ids; JSON nested deeper than `max_json_depth`; an item or request that no batch or queue could ever hold',
    todo: 'split or shorten the request; the message names the field, the size and the limit',
  },
  unsupported_media_type: {
    status: 415,
    message: (f) => `content type '${f.contentType}' is not supported`,
    hint: "send the body as JSON with 'Content-Type: application/json'",
    when: '`Content-Type` is not `application/json`',
    todo: 'send JSON',
  },
  validation_error: {
    status: 422,
    exit: 2,
    message: fieldProblem,
    hint: (f) => f.hint,
    when: 'a field is missing, of the wrong type, out of range or unknown (requests are strict, so a misspelt field is an error, not a silent default); with `truncate: false`, an item longer than `max_length`',
    todo: 'the message names each field by path, e.g. `items[1].messages[0].content`, and the rule',
  },
  client_closed: {
    status: 499,
    message: () => 'client closed the connection before scoring',
    when: 'the client went away before its items were scored; they are dropped from the queue (the status is only logged, nobody reads the answer)',
    todo: 'nothing',
  },
  engine_error: {
    status: 500,
    exit: 1,
    message: (f) => `inference failed: ${f.detail}`,
    hint: RETRY,
    when: 'a forward pass failed; only the requests in that batch fail and the server keeps serving',
    todo: 'retry',
  },
  internal_error: {
    status: 500,
    message: (f) => `internal error: ${f.detail}`,
    hint: RETRY,
    when: 'a bug; logged with its stack',
    todo: 'retry, report the `request_id`',
  },
  overloaded: {
    status: 503,
    message: (f) => `server overloaded (${f.reason})`,
    hint: (f) => `retry after ${f.retryAfterSeconds} s`,
    retryAfter: (f) => f.retryAfterSeconds,
    when: 'the queue is full (`max_queue_items` or `max_queue_tokens`); `Retry-After` estimates when the backlog will have cleared',
    todo: 'retry after `Retry-After` seconds, or add replicas',
  },
  queue_timeout: {
    status: 503,
    message: (f) => `request waited ${Math.round(f.waitedMs)} ms in the queue, over the ${f.limitMs} ms queue timeout`,
    hint: (f) => `retry after ${f.retryAfterSeconds} s`,
    retryAfter: (f) => f.retryAfterSeconds,
    when: 'the items waited longer than `queue_timeout_ms`',
    todo: 'retry after `Retry-After`',
  },
  not_ready: {
    status: 503,
    message: () => 'model is still loading or warming up',
    hint: 'retry shortly',
    retryAfter: () => 1,
    when: 'the model is still loading or warming up (`Retry-After: 1`)',
  },
  draining: {
    status: 503,
    message: () => 'server is shutting down',
    hint: 'send the request to another replica',
    retryAfter: () => 1,
    when: 'the server is shutting down (`Retry-After: 1`)',
  },
  model_error: {
    exit: 1,
    message: (f) => `model ${f.path}: ${f.problem}`,
    when: 'the model directory cannot be served (a file missing or invalid, a graph warm-serve cannot feed, a device that cannot load); `serve` stops at start-up, `score` and `eval` before scoring',
    todo: 'fix the file the message names (see [Serve your own reward model](models.md))',
  },
  merge_error: {
    exit: 1,
    message: (f) => `${f.input}${f.tensor ? ` tensor '${f.tensor}'` : ''}: ${f.problem}`,
    when: '`merge`: the inputs cannot be averaged (different architectures, dtypes or shapes, a file missing or corrupt, an output that would overwrite files)',
    todo: 'the message names the input, the tensor when there is one, and the fix',
  },
  config_error: {
    exit: 2,
    message: (f) => {
      const lines = f.issues.map(renderIssue);
      return f.context === undefined && lines.length === 1 ? lines[0] : `${f.context ?? 'invalid configuration'}:\n  ${lines.join('\n  ')}`;
    },
    when: '`serve` (and the library\'s `serve()`): a setting is invalid, a config or API-key file cannot be used, or a setting does not fit the model (`max_batch_tokens` below its `max_length`)',
    todo: 'the message names each setting, where its value came from (flag, env, file) and the rule',
  },
  usage_error: {
    exit: 2,
    message: (f) => f.problem,
    hint: (f) => f.hint,
    when: 'a command got an unknown command, option or option value',
    todo: "run `warm-serve <command> --help`",
  },
};

/** `items[3]: 400 tokens exceeds the limit of 256 tokens`: the problem, or the limit broken. */
function fieldProblem(f: FieldProblem): string {
  const what =
    f.problem ??
    (f.actual !== undefined
      ? `${f.actual} ${f.unit} exceeds the limit of ${f.limit} ${f.unit}`
      : f.unit === 'levels'
        ? `JSON nested deeper than the limit of ${f.limit} levels`
        : `a list of more than ${f.limit} ${f.unit}, beyond every list limit (max_items_per_request, max_completions_per_rank, max_messages_per_item)`);
  return f.field === undefined ? what : `${fieldName(f.field)}: ${what}`;
}

/** `max_batch_tokens (from --max-batch-tokens): 10 is below ...; raise it`. */
function renderIssue(issue: ConfigIssue): string {
  const subject = issue.setting !== undefined && issue.source !== undefined ? `${issue.setting} (from ${issue.source})` : issue.setting ?? issue.source;
  return `${subject === undefined ? '' : `${subject}: `}${issue.problem}${issue.hint ? `; ${issue.hint}` : ''}`;
}

function render<T extends ErrorType>(type: T, fields: ErrorFields[T]): string {
  const entry = CATALOGUE[type] as CatalogueEntry<ErrorFields[T]>;
  const hint = typeof entry.hint === 'function' ? entry.hint(fields) : entry.hint;
  return hint ? `${entry.message(fields)}; ${hint}` : entry.message(fields);
}

/** An error from the catalogue: its type, the fields its message was rendered from, status and exit status. */
export class WarmServeError<T extends ErrorType = ErrorType> extends Error {
  readonly type: T;
  readonly fields: Readonly<ErrorFields[T]>;
  /** HTTP status (500 for the CLI-only types, which never reach HTTP). */
  readonly status: number;
  /** Exit status of a CLI command failing with it. */
  readonly exitCode: number;
  /** Sent as Retry-After on 503s. */
  readonly retryAfterSeconds?: number;

  constructor(type: T, fields: ErrorFields[T], opts: { cause?: unknown } = {}) {
    super(render(type, fields), opts.cause === undefined ? undefined : { cause: opts.cause });
    const entry = CATALOGUE[type] as CatalogueEntry<ErrorFields[T]>;
    this.name = 'WarmServeError';
    this.type = type;
    this.fields = fields;
    this.status = entry.status ?? 500;
    this.exitCode = entry.exit ?? 1;
    this.retryAfterSeconds = entry.retryAfter?.(fields);
  }

  /** The field, setting or flag at fault, as shown (`items[3].messages`), when the error has one. */
  get field(): string | undefined {
    const f = this.fields as { field?: FieldPath };
    return f.field === undefined ? undefined : fieldName(f.field);
  }

  /** The field as a path (`['items', 3, 'messages']`); a name is a path of one. */
  get path(): readonly (string | number)[] | undefined {
    const f = this.fields as { field?: FieldPath };
    return f.field === undefined ? undefined : typeof f.field === 'string' ? [f.field] : f.field;
  }

  /** The index of the item at fault in the request's list (`items[3]...` -> 3), for errors about one item. */
  get index(): number | undefined {
    const index = this.path?.[1];
    return typeof index === 'number' ? index : undefined;
  }

  /**
   * The same field problem with some fields replaced (another field, hint...), answered as `type`
   * (this type by default; validation_error and payload_too_large only), its message rendered
   * again and this error its cause: a compatibility route names its own list (`inputs[3]`), the CLI
   * names the input line.
   */
  relabel(fields: Partial<FieldProblem>, type: ErrorType = this.type): WarmServeError<FieldProblemType> {
    if (!FIELD_PROBLEM_TYPES.has(this.type) || !FIELD_PROBLEM_TYPES.has(type)) {
      throw new TypeError(`a ${this.type} cannot be relabelled as ${type}: only ${[...FIELD_PROBLEM_TYPES].join(' and ')} share their fields`);
    }
    return new WarmServeError(type as FieldProblemType, { ...(this.fields as FieldProblem), ...fields }, { cause: this });
  }
}

/** Invalid settings (config_error): exit status 2 from the CLI. The issues name each setting and where its value came from. */
export class ConfigError extends WarmServeError<'config_error'> {
  constructor(fields: ErrorFields['config_error'], opts: { cause?: unknown } = {}) {
    super('config_error', fields, opts);
    this.name = 'ConfigError';
  }

  /** The first setting at fault (config-file key), when the problem is with one. */
  get setting(): string | undefined {
    return this.fields.issues.find((issue) => issue.setting !== undefined)?.setting;
  }

  /** The same error with each issue's source filled in where it had none (`sources`: setting -> where it came from). */
  withSources(sources: Partial<Record<string, string>>): ConfigError {
    const issues = this.fields.issues.map((issue) =>
      issue.source === undefined && issue.setting !== undefined ? { ...issue, source: sources[issue.setting] ?? 'default' } : issue,
    );
    return new ConfigError({ ...this.fields, issues }, { cause: this });
  }
}

/** Error constructors, one per situation, so messages stay consistent. */
export const errors = {
  malformedJson: (detail: string) => new WarmServeError('malformed_json', { detail }),
  badRequest: (detail: string) => new WarmServeError('bad_request', { detail }),
  unauthorized: (detail: string) => new WarmServeError('unauthorized', { detail }),
  tooDeep: (limit: number) =>
    new WarmServeError('payload_too_large', { field: 'body', limit, unit: 'levels', hint: 'send a flatter request (max_json_depth)' }),
  tooManyElements: (field: FieldPath, limit: number) =>
    new WarmServeError('payload_too_large', { field, limit, unit: 'elements', hint: 'split the request' }),
  /** A list of numbers over max_ids_per_item, refused before the body is parsed (its length is not known). */
  tooManyIds: (field: FieldPath, limit: number) =>
    new WarmServeError('payload_too_large', { field, limit, unit: 'token ids', problem: `a list of more than ${limit} token ids`, setting: 'max_ids_per_item', hint: 'send fewer token ids; the tail is what is scored (max_ids_per_item)' }),
  unsupportedMediaType: (contentType: string) => new WarmServeError('unsupported_media_type', { contentType }),
  notFound: (method: string, url: string) => new WarmServeError('not_found', { method, url }),
  /** `field`: a name or a path (`['items', 3, 'messages']`, which gives the error its item index). */
  validation: (field: FieldPath, problem: string, hint?: string) => new WarmServeError('validation_error', { field, problem, hint }),
  /** Schema issues already formatted with their field paths (`items[0].completion: is required; ...`). */
  invalidFields: (issues: string) => new WarmServeError('validation_error', { problem: issues }),
  /** An item over the model's max_length with truncate: false; `exact` false: `tokens` is a lower bound (a long text counted from its tail). */
  itemTooLong: (index: number, tokens: number, maxLength: number, exact = true) =>
    new WarmServeError('validation_error', {
      field: ['items', index],
      problem: `${exact ? '' : 'at least '}${tokens} tokens (special tokens included) exceed max_length ${maxLength}`,
      limit: maxLength,
      setting: 'max_length',
      hint: 'shorten the item or allow truncation (truncate: true)',
    }),
  tooLarge: (field: FieldPath, limit: number, actual: number, unit: string, hint: string) =>
    new WarmServeError('payload_too_large', { field, limit, actual, unit, hint }),
  overloaded: (reason: string, retryAfterSeconds: number) => new WarmServeError('overloaded', { reason, retryAfterSeconds }),
  queueTimeout: (waitedMs: number, limitMs: number, retryAfterSeconds: number) =>
    new WarmServeError('queue_timeout', { waitedMs, limitMs, retryAfterSeconds }),
  notReady: () => new WarmServeError('not_ready', {}),
  draining: () => new WarmServeError('draining', {}),
  engine: (detail: string, cause?: unknown) => new WarmServeError('engine_error', { detail }, { cause }),
  internal: (detail: string, cause?: unknown) => new WarmServeError('internal_error', { detail }, { cause }),
  clientClosed: () => new WarmServeError('client_closed', {}),
  model: (path: string, problem: string) => new WarmServeError('model_error', { path, problem }),
  merge: (input: string, tensor: string | undefined, problem: string) => new WarmServeError('merge_error', { input, tensor, problem }),
  /** Settings that cannot be used: one issue, or several under `context`. */
  config: (issues: ConfigIssue | readonly ConfigIssue[], context?: string) =>
    new ConfigError({ issues: Array.isArray(issues) ? issues : [issues as ConfigIssue], context }),
  /** One setting that does not fit (e.g. the model): the CLI adds where its value came from. */
  setting: (setting: string, problem: string, hint?: string) => new ConfigError({ issues: [{ setting, problem, hint }] }),
  usage: (problem: string, hint?: string) => new WarmServeError('usage_error', { problem, hint }),
};

/** The README's error table (markdown): scripts/error-table.mjs writes it, test/errors.test.ts checks it. */
export function errorMarkdownTable(): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const rows = (Object.keys(CATALOGUE) as ErrorType[]).map((type) => {
    const entry = CATALOGUE[type] as CatalogueEntry<unknown>;
    const todo = entry.todo ?? (typeof entry.hint === 'string' ? entry.hint : '');
    return `| ${entry.status ?? '–'} | ${entry.exit ?? '–'} | \`${type}\` | ${cell(entry.when)} | ${cell(todo)} |`;
  });
  return ['| status | exit | `error_type` | when | what to do |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
