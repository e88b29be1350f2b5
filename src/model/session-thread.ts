/**
 * An onnxruntime session on its own worker thread. onnxruntime-node's run() computes
 * synchronously on the thread that calls it, so a session on the main thread stalls the event
 * loop for a whole forward pass (measured: event-loop delay p99 115 ms at 64 clients on the
 * tiny model, seconds on a 20M-parameter one; bench/RESULTS.md). Here the main thread only
 * posts the int64 buffers and gets the logits back.
 *
 * The hop costs time too (two thread wake-ups, ~0.5-2 ms on the 2-core benchmark VM), which
 * dominates a lone request to a tiny model. So a pass estimated at most `maxMs` runs on the
 * calling thread when the session has been idle for `minIdleMs`: that stalls the event loop no
 * longer than `maxMs`, and under load, when batches follow each other, every pass goes to the
 * worker (InlinePolicy, inline-policy.ts; settings inline_max_ms, inline_min_idle_ms,
 * inline_max_model_mib).
 *
 * A float16 graph's reward output reaches the caller as float32, converted exactly
 * (session-tensors.ts), on the worker and inline alike.
 */
import { readdirSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import { errors } from '../errors.js';
import type { Device } from './device.js';
import { DEFAULT_INLINE_POLICY, type InlinePolicy } from './inline-policy.js';
import { sumPrefixStats, type PrefixStats } from './prefix-cache.js';
import { plainPass, PrefixScorer } from './prefix-scorer.js';
import { pastSpec, type PastSpec } from './graph.js';
import type { SessionReply, SessionRequest, SharingSetup, WarmUp } from './session-messages.js';

/**
 * The worker's module, and the execArgv it starts with. From dist/ (the CLI, the package): the
 * .js beside this one, with the process's own flags. Under a TypeScript loader (tests) this module
 * is .ts: the built worker (dist/, which `npm test` builds first) when it is newer than every
 * source it is built from (src/model/, src/errors.ts), started without the test runner's loader hooks, which cost each worker
 * ~2 s (an ensemble server: 22 s to load its 7 sessions, 6 s this way); else the .ts worker
 * under the same loader.
 */
function workerModule(): { url: URL; execArgv?: string[] } {
  if (!import.meta.url.endsWith('.ts')) return { url: new URL('./session-worker.js', import.meta.url) };
  const built = new URL('../../dist/model/session-worker.js', import.meta.url);
  try {
    const builtAt = statSync(built).mtimeMs;
    const here = new URL('./', import.meta.url);
    const sources = [...readdirSync(here).map((f) => new URL(f, here)), new URL('../errors.ts', import.meta.url)];
    if (sources.every((f) => statSync(f).mtimeMs <= builtAt)) return { url: built, execArgv: [] };
  } catch {
    // not built: the .ts worker
  }
  return { url: new URL('./session-worker.ts', import.meta.url) };
}
const WORKER = workerModule();

/** One output tensor of a run. */
export interface SessionOutput {
  data: Float32Array;
  dims: readonly number[];
}

interface Waiter {
  resolve(out: SessionOutput): void;
  reject(err: Error): void;
  /** rows x sequence length of the batch, for the per-token cost estimate. */
  tokens: number;
}

// Weight of the newest pass in the per-token cost estimate.
const COST_SMOOTHING = 0.2;
/**
 * Share of a session's prefix cache budget that its inline copy gets (the worker gets the rest):
 * inline passes are short batches on an idle session, a lone client's groups, which need a few
 * prompts' pasts; the worker's cache serves the traffic that keeps it busy.
 */
const INLINE_CACHE_SHARE = 0.25;

/** One inline pass at a time on this thread, whatever the session (ensemble members included). */
let inlineBusy = false;

/** A session owned by a worker thread; run() never blocks the caller's event loop. */
export class ThreadSession {
  private nextId = 0;
  private readonly waiting = new Map<number, Waiter>();
  private exited?: Error;
  /** Milliseconds per token of recent passes (NaN until the first one). */
  private msPerToken = NaN;
  /** When the last pass finished (performance.now()). */
  private lastDone = 0;
  /** The calling thread's own copy of the session, opened once a pass qualifies for it. */
  private inline?: Promise<ort.InferenceSession | undefined>;
  private inlineSession?: ort.InferenceSession;
  private inlineRuns = 0;
  /** The graph's past, when it takes one: a plain pass feeds it empty. */
  private readonly past?: PastSpec;
  /** Prefix sharing, when on: the worker and the inline session each have a PrefixScorer (and cache; this one is the inline scorer's setup). */
  private sharing?: SharingSetup;
  private inlineScorer?: PrefixScorer;
  /** The worker's prefix cache figures after its latest scored batch. */
  private latestPrefixStats?: PrefixStats;
  /** Whether passes may ever run inline: a CPU session, inline_max_ms above 0, a model small enough for a second copy. */
  private readonly inlineCapable: boolean;

  private constructor(
    private readonly worker: Worker,
    readonly device: Exclude<Device, 'auto'>,
    readonly inputMetadata: readonly InferenceSession.ValueMetadata[],
    readonly outputMetadata: readonly InferenceSession.ValueMetadata[],
    private readonly modelFile: string,
    private readonly options: InferenceSession.SessionOptions,
    private readonly inlinePolicy: Readonly<InlinePolicy>,
    /** The warm-up passes the worker ran before it said ready (a GPU device only). */
    readonly warmUp: WarmUp | undefined,
  ) {
    this.past = pastSpec(modelFile, inputMetadata, outputMetadata);
    this.inlineCapable = device === 'cpu' && inlinePolicy.maxMs > 0 && statSync(modelFile).size <= inlinePolicy.maxModelBytes;
    worker.on('message', (reply: SessionReply) => {
      if (reply.kind !== 'result' && reply.kind !== 'failed') return;
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      this.lastDone = performance.now();
      if (reply.kind === 'result') {
        if (reply.prefix) this.latestPrefixStats = reply.prefix;
        if (waiter) this.observe(reply.ms, waiter.tokens);
        waiter?.resolve({ data: reply.data, dims: reply.dims });
      } else waiter?.reject(new Error(reply.message));
    });
    const fail = (err: Error) => {
      this.exited = err;
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the onnxruntime worker thread exited (code ${code})`)));
    // An idle worker does not keep the process alive; a pending run does (see run()).
    worker.unref();
  }

  /** Open `modelFile` on `device` in a new worker; errors.model when it cannot load. `inline`: when a pass may skip the worker. */
  static open(
    modelFile: string,
    device: Device,
    options: InferenceSession.SessionOptions,
    inline: Readonly<InlinePolicy> = DEFAULT_INLINE_POLICY,
  ): Promise<ThreadSession> {
    const worker = new Worker(WORKER.url, { workerData: { modelFile, device, options }, execArgv: WORKER.execArgv });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(errors.model(modelFile, `the onnxruntime worker thread failed: ${err.message}`));
      worker.once('error', onError);
      worker.once('message', (reply: SessionReply) => {
        worker.off('error', onError);
        if (reply.kind === 'ready') {
          resolve(new ThreadSession(worker, reply.device as Exclude<Device, 'auto'>, reply.inputs, reply.outputs, modelFile, options, inline, reply.warmUp));
        } else if (reply.kind === 'open_failed') {
          void worker.terminate();
          // The worker's model error names its own file.
          reject(reply.modelError ? errors.model(reply.modelError.path, reply.modelError.problem) : errors.model(modelFile, reply.message));
        }
      });
    });
  }

  /** Passes run on the calling thread so far (the rest went to the worker). */
  get inlinePasses(): number {
    return this.inlineRuns;
  }

  /** The prefix caches' figures (the worker's after its latest batch, plus the inline one's), when prefix sharing is on. */
  get prefixStats(): PrefixStats | undefined {
    return sumPrefixStats([this.latestPrefixStats, this.inlineScorer?.stats]);
  }

  /** Turn prefix sharing on (a graph that takes a past; call before the first score()). */
  share(setup: SharingSetup): void {
    // One budget for the session: the inline copy's cache (when it can exist) takes its share of it.
    const inlineBytes = this.inlineCapable ? Math.floor(setup.cacheBytes * INLINE_CACHE_SHARE) : 0;
    this.sharing = { ...setup, cacheBytes: inlineBytes };
    this.worker.postMessage({ kind: 'share', setup: { ...setup, cacheBytes: setup.cacheBytes - inlineBytes } } satisfies SessionRequest);
  }

  /**
   * Score token-id sequences with prefix sharing (share() first): on the worker, where its cache
   * of pasts lives, or, for a short batch on an idle session, inline with the inline session's
   * own cache (a lone trainer's per-sample requests then skip the hop and still share).
   */
  score(sequences: Int32Array[]): Promise<SessionOutput> {
    let tokens = 0;
    for (const s of sequences) tokens += s.length;
    const scorer = this.inlineScorer;
    if (this.inlineReady(tokens) && scorer) return this.runInline(() => scorer.score(sequences), tokens);
    return this.post({ kind: 'score', id: this.nextId++, sequences }, tokens);
  }

  /** Run one batch of int64 [batch, seq] inputs; resolves to the output named `output`. */
  run(feeds: Record<string, BigInt64Array>, dims: number[], output: string): Promise<SessionOutput> {
    const tokens = dims[0] * dims[1];
    const session = this.inlineSession;
    if (this.inlineReady(tokens) && session) {
      return this.runInline(() => plainPass(session, this.past, feeds, dims, output), tokens);
    }
    return this.post({ kind: 'run', id: this.nextId++, feeds, dims, output }, tokens);
  }

  /** Whether a pass of `tokens` may run inline now; opens the inline session the first time one qualifies. */
  private inlineReady(tokens: number): boolean {
    if (this.exited || !this.qualifiesInline(tokens)) return false;
    // A model that cannot open twice simply stays on the worker.
    this.inline ??= this.openInline().catch(() => undefined);
    return this.inlineSession !== undefined;
  }

  private post(request: SessionRequest & { id: number }, tokens: number): Promise<SessionOutput> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id, { resolve, reject, tokens });
      this.worker.ref();
      this.worker.postMessage(request);
    });
  }

  /** A short pass on an idle CPU session: cheaper here than a round trip to the worker. */
  private qualifiesInline(tokens: number): boolean {
    const { maxMs, minIdleMs } = this.inlinePolicy;
    return (
      this.inlineCapable &&
      !inlineBusy &&
      this.waiting.size === 0 &&
      this.msPerToken * tokens <= maxMs &&
      performance.now() - this.lastDone >= minIdleMs
    );
  }

  private async openInline(): Promise<ort.InferenceSession> {
    const session = await ort.InferenceSession.create(this.modelFile, this.options);
    const sharing = this.sharing;
    if (sharing && this.past) this.inlineScorer = new PrefixScorer(session, this.past, sharing.inputs, sharing.output, sharing.layout, sharing);
    this.inlineSession = session;
    return session;
  }

  private async runInline(work: () => Promise<SessionOutput>, tokens: number): Promise<SessionOutput> {
    inlineBusy = true;
    this.inlineRuns++;
    try {
      const start = performance.now();
      const out = await work();
      this.observe(performance.now() - start, tokens);
      return out;
    } finally {
      inlineBusy = false;
      this.lastDone = performance.now();
    }
  }

  private observe(ms: number, tokens: number): void {
    const cost = ms / tokens;
    this.msPerToken = Number.isNaN(this.msPerToken) ? cost : this.msPerToken + COST_SMOOTHING * (cost - this.msPerToken);
  }

  /** Release the session and wait for the worker to exit. */
  async release(): Promise<void> {
    if (this.exited) return;
    await (await this.inline?.catch(() => undefined))?.release();
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.ref();
    this.worker.postMessage({ kind: 'release' } satisfies SessionRequest);
    await exited;
  }
}
