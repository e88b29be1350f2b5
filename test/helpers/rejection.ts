/** The error a promise must reject with, for asserting on its fields. */
import { WarmServeError } from '../../src/errors.js';

/**
 * Await `promise` and return what it rejects with, checked to be a `type` (default
 * WarmServeError). Throws (failing the test) when it resolves or rejects with anything else.
 */
export async function rejection<E extends Error = WarmServeError>(
  promise: Promise<unknown>,
  type: abstract new (...args: any[]) => E = WarmServeError as unknown as abstract new (...args: any[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof type) return err;
    throw new Error(`expected a ${type.name}, got ${String(err)}`, { cause: err });
  }
  throw new Error(`expected a rejection with a ${type.name}, but it resolved`);
}
