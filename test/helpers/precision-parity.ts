/**
 * What test/fp16.test.ts and test/gpu/webgpu.test.ts compare between two servers: the rewards of
 * items of many lengths (plain passes, padded batches) and of groups that share a long prompt
 * (prefix sharing: the prompt's past computed once and fed back), and the float16 and float32
 * merges of reference members 0 and 1 that they serve.
 */
import { join } from 'node:path';
import { merge, tempDir } from '../fixtures/merge/run-merge.js';
import { call } from './http-call.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const REFERENCE = join(ROOT, 'models', 'reference');
/** Reference members 0 and 1 in half precision (test/fixtures/fp16/make_fp16.py). */
export const FP16_MEMBERS = [0, 1].map((i) => join(ROOT, 'test', 'fixtures', 'fp16', `member-${i}`));
/** A float16 merge of FP16_MEMBERS against the float32 merge of FP32_MEMBERS (measured 3.8e-3 on the CPU; WebGPU's own bound: test/gpu/webgpu.test.ts). */
export const FP16_TOLERANCE = 1e-2;
/** The same members in float32. */
export const FP32_MEMBERS = [0, 1].map((i) => join(REFERENCE, 'members', `member-${i}`));

const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends and her dog.';
/** Items from 3 to ~120 tokens, scored in one request (one padded batch). */
export const ITEMS = [
  { text: 'hi' },
  { prompt: 'Once upon a time', completion: ' there was a cat.' },
  { prompt: 'Human: Hi\n\nAssistant:', completion: ' Hello! How can I help?' },
  { text: story },
  { prompt: `${story} One day`, completion: ' she found a big red ball under a tree and shared it with everyone.' },
  { text: `${story} ${story} ${story}` },
  { prompt: 'SUBREDDIT: r/AskReddit\nTITLE: What is a small thing that makes your day better?\nPOST:', completion: ' A good cup of coffee.' },
];
/** /v1/rank groups whose completions share their prompt's tokens: scored through prefix sharing on a graph that takes a past. */
export const GROUPS = [
  { prompt: `${story} One day`, completions: [' she saw a bird.', ' it rained and they went home.', ' her dog ran away and she cried.', ' they ate cake.'] },
  { prompt: 'SUBREDDIT: r/relationships\nTITLE: How do I tell my roommate that the dishes are piling up?\nPOST: We share a flat and every week the sink fills up again.\n\nTL;DR:', completions: [' Talk to them.', ' Make a rota for the dishes.', ' Move out.'] },
];

/** Every reward a server gives ITEMS (in one /v1/score) and GROUPS (one /v1/rank each), in order; `members`: each member's too (--ensemble). */
export async function rewardsOf(url: string, members = false): Promise<{ rewards: number[]; members: number[][] }> {
  const score = await call(url, 'POST', '/v1/score', { items: ITEMS, ...(members && { return_members: true }) });
  if (score.status !== 200) throw new Error(`/v1/score: ${score.status} ${score.text}`);
  const rewards: number[] = [...score.json.rewards];
  const perMember: number[][] = members ? score.json.members.map((m: { rewards: number[] }) => [...m.rewards]) : [];
  for (const group of GROUPS) {
    const rank = await call(url, 'POST', '/v1/rank', { ...group, ...(members && { return_members: true }) });
    if (rank.status !== 200) throw new Error(`/v1/rank: ${rank.status} ${rank.text}`);
    rewards.push(...rank.json.rewards);
    if (members) rank.json.members.forEach((m: { rewards: number[] }, k: number) => perMember[k].push(...m.rewards));
  }
  return { rewards, members: perMember };
}

/** Largest |a[i] - b[i]| (Infinity when the lengths differ or a value is not finite). */
export function maxDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!Number.isFinite(d)) return Infinity;
    worst = Math.max(worst, d);
  }
  return worst;
}

const merged = new Map<string, Promise<string>>();
/** `warm-serve merge` of `inputs` (safetensors and ONNX) into a temp directory, once per process. */
export function mergedModel(inputs: string[]): Promise<string> {
  const key = inputs.join('\n');
  if (!merged.has(key)) {
    const out = join(tempDir('warm-precision-'), 'merged');
    merged.set(key, merge(inputs, out, { quiet: true }).then(() => out));
  }
  return merged.get(key)!;
}
