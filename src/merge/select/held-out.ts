/**
 * Scoring merge inputs and outputs on preference pairs, for `merge --select` (held-out accuracy)
 * and `merge --calibrate` (reward mean and std). Everything goes through the scoring service, so
 * a model is judged on exactly what the server would feed it. Rewards are raw logits[:, 0]:
 * accuracy does not depend on a positive affine normalisation, and calibration must not see one.
 */
import { pairwiseAccuracy, type Accuracy } from '../../eval/accuracy.js';
import type { PreferencePair } from '../../eval/pairs.js';
import { scorePairs, type PairRewards } from '../../eval/score-pairs.js';
import { errors, WarmServeError } from '../../errors.js';
import { OnnxEngine } from '../../model/onnx-engine.js';
import { createScoringService } from '../../scoring/service.js';

/** A model to score: a model directory and, for a `.onnx` input, the graph to use instead of its model.onnx. */
export interface ScorableModel {
  label: string;
  dir: string;
  modelFile?: string;
}

/** The reward statistics a calibration stores as the manifest's `normalization`. */
export interface RewardScale {
  mean: number;
  /** Population standard deviation. */
  std: number;
  /** Texts scored (two per pair). */
  texts: number;
}

/** Raw rewards of every pair's chosen and rejected answer from `model`. */
export async function rawPairRewards(
  model: ScorableModel,
  pairs: readonly PreferencePair[],
  onProgress?: (done: number, total: number) => void,
): Promise<PairRewards> {
  let service;
  try {
    service = await createScoringService(model.dir, {
      createEngine: (dir, tokenizer) =>
        OnnxEngine.create(model.modelFile ?? dir.modelFile, { padTokenId: tokenizer.padId, paddingSide: dir.paddingSide }),
    });
  } catch (err) {
    if (!(err instanceof WarmServeError)) throw err;
    throw errors.merge(model.label, undefined, `cannot be scored on the pairs (${err.message}); scoring needs a loadable model directory (config.json, tokenizer files, model.onnx)`);
  }
  try {
    return await scorePairs(service, pairs, onProgress);
  } finally {
    await service.drain(60_000);
  }
}

/** Pairwise accuracy of `model` on `pairs`. */
export async function heldOutAccuracy(
  model: ScorableModel,
  pairs: readonly PreferencePair[],
  onProgress?: (done: number, total: number) => void,
): Promise<Accuracy> {
  const { chosen, rejected } = await rawPairRewards(model, pairs, onProgress);
  return pairwiseAccuracy(chosen, rejected);
}

/** Mean and population std of `model`'s raw rewards over every chosen and rejected text of `pairs`. */
export async function rewardScale(
  model: ScorableModel,
  pairs: readonly PreferencePair[],
  onProgress?: (done: number, total: number) => void,
): Promise<RewardScale> {
  const { chosen, rejected } = await rawPairRewards(model, pairs, onProgress);
  const texts = chosen.length + rejected.length;
  let sum = 0;
  for (const r of [...chosen, ...rejected]) sum += r;
  const mean = sum / texts;
  let squares = 0;
  for (const r of [...chosen, ...rejected]) squares += (r - mean) ** 2;
  const std = Math.sqrt(squares / texts);
  if (!(std > 0)) {
    throw errors.merge(model.label, undefined, `every one of the ${texts} calibration texts gets the same reward ${mean}; a normalisation needs a spread (use more varied --calibrate data)`);
  }
  return { mean, std, texts };
}
