// Seeded texts for scripts/gpu/parity.mjs and load.mjs: story-like sentences of varied length
// (about 10 to 120 tokens with the reference tokenizer), distinct from one another, so no reward
// cache or shared prefix makes a pass cheaper than a forward pass of that length.
import { seededRandom } from '../seeded-random.mjs';

const WORDS = ('once upon a time there was a little girl named lily she loved to play outside in the park with her ' +
  'friends and her dog one day found big red ball under tree shared it everyone sun was warm they ran laughed ' +
  'until mom called them home for dinner cat sat on mat happy sad small green blue bird sang song sky rain').split(' ');

/** `count` distinct texts, lengths drawn between `minWords` and `maxWords`, from `seed`. */
export function texts(count, { seed = 17, minWords = 4, maxWords = 80 } = {}) {
  const random = seededRandom(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const n = minWords + Math.floor(random() * (maxWords - minWords + 1));
    const words = Array.from({ length: n }, () => WORDS[Math.floor(random() * WORDS.length)]);
    out.push(`${i}: ${words.join(' ')}.`);
  }
  return out;
}
