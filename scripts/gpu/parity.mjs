// Rewards of one set of requests from two servers, compared: 48 texts of 4-80 words in batches
// of 16 (/v1/score; padded batches) and 4 groups of 8 completions after a shared prompt
// (/v1/rank; prefix sharing on a graph that takes a past), with every member's rewards when
// the servers run --ensemble.
//
//   node scripts/gpu/parity.mjs URL_A URL_B [--members] [--tolerance 1e-4]
//
// Prints one JSON line {rewards, max_abs_diff, tolerance, ok}; exits 1 when a reward differs by
// more than the tolerance or a request fails.
import { texts } from './items.mjs';

const args = process.argv.slice(2);
const members = args.includes('--members');
const k = args.indexOf('--tolerance');
const tolerance = k >= 0 ? Number(args[k + 1]) : 1e-4;
const [a, b] = args.filter((x, i) => !x.startsWith('--') && (k < 0 || i !== k + 1));
if (!a || !b || !Number.isFinite(tolerance)) {
  console.error('usage: node scripts/gpu/parity.mjs URL_A URL_B [--members] [--tolerance 1e-4]');
  process.exit(2);
}

async function post(url, path, body) {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${url}${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Every reward (and member reward) the server at `url` gives the requests, in order. */
async function rewards(url) {
  const out = [];
  const take = (json) => {
    out.push(...json.rewards);
    for (const m of json.members ?? []) out.push(...m.rewards);
  };
  const items = texts(48, { seed: 5 });
  for (let i = 0; i < items.length; i += 16) take(await post(url, '/v1/score', { items: items.slice(i, i + 16).map((text) => ({ text })), ...(members && { return_members: true }) }));
  const prompts = texts(4, { seed: 6, minWords: 30, maxWords: 50 });
  for (const prompt of prompts) {
    const completions = texts(8, { seed: prompt.length, minWords: 2, maxWords: 20 }).map((c) => ` ${c}`);
    take(await post(url, '/v1/rank', { prompt, completions, ...(members && { return_members: true }) }));
  }
  return out;
}

const [ra, rb] = await Promise.all([rewards(a), rewards(b)]);
let worst = ra.length === rb.length ? 0 : Infinity;
ra.forEach((r, i) => (worst = Math.max(worst, Math.abs(r - rb[i]))));
const ok = worst <= tolerance;
console.log(JSON.stringify({ rewards: ra.length, max_abs_diff: worst, tolerance, ok }));
process.exit(ok ? 0 : 1);
