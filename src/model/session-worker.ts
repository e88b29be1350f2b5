/**
 * The worker-thread side of ThreadSession (session-thread.ts): owns one onnxruntime session and
 * runs the batches the main thread posts. onnxruntime-node's run() computes on the calling
 * thread, so here it blocks this worker instead of the server's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { WarmServeError } from '../errors.js';
import { createSessionOn, type Device } from './device.js';
import type { SessionReply, SessionRequest } from './session-messages.js';

const { modelFile, device, options } = workerData as { modelFile: string; device: Device; options: ort.InferenceSession.SessionOptions };
const port = parentPort!;
const post = (reply: SessionReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

try {
  const opened = await createSessionOn(modelFile, device, options);
  const session = opened.session;
  post({ kind: 'ready', device: opened.device, inputs: session.inputMetadata, outputs: session.outputMetadata });
  port.on('message', (request: SessionRequest) => {
    if (request.kind === 'release') {
      void session.release().finally(() => port.close());
      return;
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, data] of Object.entries(request.feeds)) feeds[name] = new ort.Tensor('int64', data, request.dims);
    const start = performance.now();
    session.run(feeds).then(
      (outputs) => {
        const ms = performance.now() - start;
        const out = outputs[request.output] as ort.Tensor;
        // A copy the size of the logits (batch x labels), so the buffer can be handed over.
        const data = Float32Array.from(out.data as Float32Array);
        post({ kind: 'result', id: request.id, data, dims: [...out.dims], ms }, [data.buffer]);
      },
      (err: Error) => post({ kind: 'failed', id: request.id, message: err.message }),
    );
  });
} catch (err) {
  const e = err as Error;
  // A model error crosses the thread as its fields, so the main thread rebuilds the same error.
  const modelError = e instanceof WarmServeError && e.type === 'model_error' ? (e as WarmServeError<'model_error'>).fields : undefined;
  post({ kind: 'open_failed', message: e.message, modelError });
  port.close();
}
