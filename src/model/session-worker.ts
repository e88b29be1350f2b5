/**
 * The worker-thread side of ThreadSession (session-thread.ts): owns one onnxruntime session and
 * runs the batches the main thread posts. onnxruntime-node's run() computes on the calling
 * thread, so here it blocks this worker instead of the server's event loop. For a graph that
 * takes a past, a plain batch gets an empty past, and with prefix sharing on the worker also
 * owns the PrefixScorer and its cache of pasts.
 *
 * On a GPU device the worker warms the session up before it says ready: the first pass of each
 * kind of shape compiles that provider's kernels (WebGPU: its shaders, seconds each on a software
 * Vulkan device; CUDA: kernel selection), so it is paid here, before the server's /ready, rather
 * than by the first requests. Float16 outputs become float32 exactly (session-tensors.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { WarmServeError } from '../errors.js';
import { createSessionOn, type Device } from './device.js';
import { emptyPast, plainPass, PrefixScorer, tokenFeeds } from './prefix-scorer.js';
import { checkGraph, pastSpec, type GraphSignature } from './graph.js';
import { padBatch } from './padded-batch.js';
import type { SessionReply, SessionRequest, WarmUp } from './session-messages.js';

const { modelFile, device, options } = workerData as { modelFile: string; device: Device; options: ort.InferenceSession.SessionOptions };
const port = parentPort!;
const post = (reply: SessionReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

try {
  const opened = await createSessionOn(modelFile, device, options);
  const session = opened.session;
  const past = pastSpec(modelFile, session.inputMetadata, session.outputMetadata);
  let scorer: PrefixScorer | undefined;
  // A graph the engine cannot use is refused with checkGraph's message before any pass.
  const warm = opened.device === 'cpu' ? undefined : await warmUp(session, checkGraph(modelFile, session.inputMetadata, session.outputMetadata));
  post({ kind: 'ready', device: opened.device, inputs: session.inputMetadata, outputs: session.outputMetadata, warmUp: warm });
  port.on('message', (request: SessionRequest) => {
    if (request.kind === 'release') {
      void session.release().finally(() => port.close());
      return;
    }
    if (request.kind === 'share') {
      const { setup } = request;
      if (past) scorer = new PrefixScorer(session, past, setup.inputs, setup.output, setup.layout, setup);
      return;
    }
    const start = performance.now();
    const reply = (data: Float32Array, dims: readonly number[]) => {
      const ms = performance.now() - start;
      post({ kind: 'result', id: request.id, data, dims: [...dims], ms, prefix: scorer?.stats }, [data.buffer as ArrayBuffer]);
    };
    const fail = (err: Error) => post({ kind: 'failed', id: request.id, message: err.message });
    if (request.kind === 'score') {
      if (!scorer) return fail(new Error('prefix sharing is not set up on this session'));
      scorer.score(request.sequences).then(({ data, dims }) => reply(data, dims), fail);
      return;
    }
    // A float32 copy the size of the logits (batch x labels), so the buffer can be handed over.
    plainPass(session, past, request.feeds, request.dims, request.output).then(({ data, dims }) => reply(data, dims), fail);
  });
} catch (err) {
  const e = err as Error;
  // A model error crosses the thread as its fields, so the main thread rebuilds the same error.
  const modelError = e instanceof WarmServeError && e.type === 'model_error' ? (e as WarmServeError<'model_error'>).fields : undefined;
  post({ kind: 'open_failed', message: e.message, modelError });
  port.close();
}

/**
 * Warm-up passes on a GPU device, each a shape class the server runs: one item, a padded batch
 * (with an empty past when the graph takes one), and for a graph that takes a past the passes
 * of prefix sharing (a shared prefix computed, its present fed back as a batch-1 past to two
 * suffixes). Token id 1 throughout: shapes, not values, select the kernels.
 */
async function warmUp(session: ort.InferenceSession, { inputs, output, past }: GraphSignature): Promise<WarmUp> {
  const start = performance.now();
  const feedSet = new Set<string>(inputs);
  const layout = { padTokenId: 0, paddingSide: 'right' as const };
  const ones = (n: number) => new Int32Array(n).fill(1);
  let passes = 0;
  for (const batch of [[ones(7)], [ones(13), ones(5), ones(9)]]) {
    await session.run({ ...(past ? emptyPast(past) : {}), ...tokenFeeds(padBatch(batch, layout, feedSet), inputs) }, [output]);
    passes++;
  }
  if (past) {
    // two items sharing 16 tokens: the prefix pass (presents fetched), then the suffixes after it
    const scorer = new PrefixScorer(session, past, inputs, output, layout, { minTokens: 4, cacheBytes: 0 });
    const shared = ones(16);
    await scorer.score([Int32Array.of(...shared, 2), Int32Array.of(...shared, 1, 1, 2)]);
    passes += 2;
  }
  return { passes, ms: performance.now() - start };
}
