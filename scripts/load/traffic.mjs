// What the load scripts send: a seeded pool of story texts, their one-at-a-time rewards, and a
// plain JSON POST over undici that never throws for an HTTP status.
import { Agent, request } from 'undici';
import { seededRandom } from '../seeded-random.mjs';


const WORDS = ['Lily', 'Tom', 'the', 'dog', 'cat', 'park', 'ball', 'happy', 'sad', 'big', 'little', 'tree', 'sun',
  'played', 'ran', 'saw', 'found', 'a', 'and', 'with', 'her', 'his', 'friend', 'mom', 'toy', 'red', 'blue', 'day'];

/** `n` different story-like texts of 4 to 60 words. */
export function textPool(n, seed = 1) {
  const next = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const words = Array.from({ length: 4 + Math.floor(next() * 56) }, () => WORDS[Math.floor(next() * WORDS.length)]);
    return `Story ${i}: Once upon a time ${words.join(' ')}.`;
  });
}

/** A keep-alive connection pool that does not cap concurrency below `connections`. */
export const pool = (connections = 1024) => new Agent({ connections, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });

/** POST JSON (or a raw string) and read the answer: { status, retryAfter, json } or { error } when the exchange failed. */
export async function post(dispatcher, url, body, { headers = {}, signal } = {}) {
  try {
    const res = await request(url, {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
      dispatcher,
      signal,
    });
    const text = await res.body.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, retryAfter: res.headers['retry-after'], json };
  } catch (error) {
    return { error };
  }
}

/** Each text's reward scored alone, one request at a time (the reference every batched answer must match). */
export async function referenceRewards(dispatcher, baseUrl, texts, headers = {}) {
  const rewards = [];
  for (const text of texts) {
    const res = await post(dispatcher, `${baseUrl}/v1/score`, { items: [{ text }] }, { headers });
    if (res.status !== 200) throw new Error(`reference score failed: ${res.status} ${JSON.stringify(res.json ?? res.error?.message)}`);
    rewards.push(res.json.rewards[0]);
  }
  return rewards;
}

/** Run `workers` closed loops of `once()` for `ms`; resolves with the number of calls that returned true. */
export async function closedLoop(workers, ms, once) {
  const end = performance.now() + ms;
  let ok = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < end) if (await once()) ok++;
  }));
  return ok;
}
