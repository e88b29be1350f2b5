/**
 * An onnxruntime session on its own worker thread. onnxruntime-node's run() computes
 * synchronously on the thread that calls it, so a session on the main thread stalls the event
 * loop for a whole forward pass (measured: event-loop delay p99 115 ms at 64 clients on the
 * tiny model, seconds on a 20M-parameter one; bench/RESULTS.md). Here the main thread only
 * posts the int64 buffers and gets the logits back.
 */
import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { errors, WarmServeError } from '../errors.js';
import type { Device } from './device.js';
import type { SessionReply, SessionRequest } from './session-messages.js';

// Under a TypeScript loader (tests) this module is .ts and so is its worker.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './session-worker.ts' : './session-worker.js', import.meta.url);

/** One output tensor of a run. */
export interface SessionOutput {
  data: Float32Array;
  dims: readonly number[];
}

interface Waiter {
  resolve(out: SessionOutput): void;
  reject(err: Error): void;
}

/** A session owned by a worker thread; run() never blocks the caller's event loop. */
export class ThreadSession {
  private nextId = 0;
  private readonly waiting = new Map<number, Waiter>();
  private exited?: Error;

  private constructor(
    private readonly worker: Worker,
    readonly device: Exclude<Device, 'auto'>,
    readonly inputMetadata: readonly InferenceSession.ValueMetadata[],
    readonly outputMetadata: readonly InferenceSession.ValueMetadata[],
  ) {
    worker.on('message', (reply: SessionReply) => {
      if (reply.kind !== 'result' && reply.kind !== 'failed') return;
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (reply.kind === 'result') waiter?.resolve({ data: reply.data, dims: reply.dims });
      else waiter?.reject(new Error(reply.message));
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

  /** Open `modelFile` on `device` in a new worker; errors.model when it cannot load. */
  static open(modelFile: string, device: Device, options: InferenceSession.SessionOptions): Promise<ThreadSession> {
    const worker = new Worker(WORKER_URL, { workerData: { modelFile, device, options } });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(errors.model(modelFile, `the onnxruntime worker thread failed: ${err.message}`));
      worker.once('error', onError);
      worker.once('message', (reply: SessionReply) => {
        worker.off('error', onError);
        if (reply.kind === 'ready') {
          resolve(new ThreadSession(worker, reply.device as Exclude<Device, 'auto'>, reply.inputs, reply.outputs));
        } else if (reply.kind === 'open_failed') {
          void worker.terminate();
          // The worker's errors.model message already names the file.
          reject(reply.modelError ? new WarmServeError('model_error', reply.message) : errors.model(modelFile, reply.message));
        }
      });
    });
  }

  /** Run one batch of int64 [batch, seq] inputs; resolves to the output named `output`. */
  run(feeds: Record<string, BigInt64Array>, dims: number[], output: string): Promise<SessionOutput> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    // The buffers are copied, not transferred: ensemble members score the same padded batch.
    const request: SessionRequest = { kind: 'run', id, feeds, dims, output };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage(request);
    });
  }

  /** Release the session and wait for the worker to exit. */
  async release(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.ref();
    this.worker.postMessage({ kind: 'release' } satisfies SessionRequest);
    await exited;
  }
}
