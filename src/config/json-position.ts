/**
 * Where a JSON text stops being valid, for error messages about files that may hold secrets
 * (config files with API keys, tokenizer and model files): V8's JSON.parse messages can quote a
 * piece of the text ("Unexpected token 's', ..."sk-live-1"... is not valid JSON") and then give
 * no position, so messages name the file and this position, never the parser's message.
 */

/** The position of the first JSON syntax error in `text`, as "line L, column C" (1-based). */
export function jsonErrorPosition(text: string): string {
  const stated = errorOffset(text);
  let good = stated ?? 0;
  if (stated === undefined) {
    // No position in the message: binary search for the longest prefix that can still begin a
    // valid document (parsing it succeeds or fails at its very end); the bad character follows it.
    let bad = text.length + 1;
    while (bad - good > 1) {
      const k = (good + bad) >> 1;
      const at = errorOffset(text.slice(0, k));
      if (at !== undefined && at >= k) good = k;
      else bad = k;
    }
  }
  const before = text.slice(0, good);
  const line = before.split('\n').length;
  const column = good - (before.lastIndexOf('\n') + 1) + 1;
  return good >= text.length ? `line ${line}, column ${column} (the text ends too early)` : `line ${line}, column ${column}`;
}

/**
 * Where JSON.parse says `text` goes wrong: its length when it parses or ends too early, the
 * offset V8 states, or undefined when the message states none ("Unexpected token ...").
 */
function errorOffset(text: string): number | undefined {
  try {
    JSON.parse(text);
    return text.length;
  } catch (err) {
    const message = (err as Error).message;
    if (message === 'Unexpected end of JSON input') return text.length;
    const at = / in JSON at position (\d+)(?: \(line \d+ column \d+\))?$/.exec(message);
    return at ? Number(at[1]) : undefined;
  }
}
