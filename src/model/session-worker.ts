/**
 * The worker-thread side of ThreadSession (session-thread.ts): owns one onnxruntime session and
 * runs the batches the main thread posts. onnxruntime-node's run() computes on the calling
 * thread, so here it blocks this worker instead of the server's event loop. For a graph that
 * takes a past, a plain batch gets an empty past, and with prefix sharing on the worker also
 * owns the PrefixScorer and its cache of pasts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { WarmServeError } from '../errors.js';
import { createSessionOn, type Device } from './device.js';
import { emptyPast, PrefixScorer } from './prefix-scorer.js';
import { pastSpec } from './graph.js';
import type { SessionReply, SessionRequest } from './session-messages.js';

const { modelFile, device, options } = workerData as { modelFile: string; device: Device; options: ort.InferenceSession.SessionOptions };
const port = parentPort!;
const post = (reply: SessionReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

try {
  const opened = await createSessionOn(modelFile, device, options);
  const session = opened.session;
  const past = pastSpec(modelFile, session.inputMetadata, session.outputMetadata);
  let scorer: PrefixScorer | undefined;
  post({ kind: 'ready', device: opened.device, inputs: session.inputMetadata, outputs: session.outputMetadata });
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
    const feeds: Record<string, ort.Tensor> = past ? emptyPast(past) : {};
    for (const [name, data] of Object.entries(request.feeds)) feeds[name] = new ort.Tensor('int64', data, request.dims);
    session.run(feeds, [request.output]).then((outputs) => {
      const out = outputs[request.output] as ort.Tensor;
      // A copy the size of the logits (batch x labels), so the buffer can be handed over.
      reply(Float32Array.from(out.data as Float32Array), out.dims);
    }, fail);
  });
} catch (err) {
  const e = err as Error;
  // A model error crosses the thread as its fields, so the main thread rebuilds the same error.
  const modelError = e instanceof WarmServeError && e.type === 'model_error' ? (e as WarmServeError<'model_error'>).fields : undefined;
  post({ kind: 'open_failed', message: e.message, modelError });
  port.close();
}
