/**
 * The raw-body scan (src/server/json-shape.ts) against the parsed value: over random JSON
 * (fast-check), a body is refused exactly when its parsed value nests deeper or holds a longer
 * list than the limits, and a refused list is named by its path.
 */
import fc from 'fast-check';
import t from 'tap';
import { jsonShapeProblem } from '../src/server/json-shape.js';

/** Deepest nesting and longest list of a parsed value, walked the obvious way. */
function measure(value: unknown): { depth: number; longest: number } {
  if (typeof value !== 'object' || value === null) return { depth: 0, longest: 0 };
  const children = Array.isArray(value) ? value : Object.values(value);
  const inner = children.map(measure);
  return {
    depth: 1 + Math.max(0, ...inner.map((m) => m.depth)),
    longest: Math.max(Array.isArray(value) ? value.length : 0, ...inner.map((m) => m.longest)),
  };
}

t.test('refused exactly when the parsed value breaks a limit', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 6 }), fc.boolean(), (value, maxDepth, maxElements, spaced) => {
      const text = JSON.stringify(value, null, spaced ? 1 : undefined);
      const { depth, longest } = measure(value);
      const problem = jsonShapeProblem(text, maxDepth, maxElements);
      if (depth > maxDepth) return problem !== undefined; // either limit may be met first
      if (longest > maxElements) return problem?.kind === 'list';
      return problem === undefined;
    }),
    { numRuns: 3000 },
  );
});

t.test('the refused list is named by its path; strings do not count', async (t) => {
  t.same(jsonShapeProblem('{"items":[1,2,3]}', 8, 2), { kind: 'list', path: 'items' });
  t.same(jsonShapeProblem('{"items":[{"text":"a"},{"messages":[{}, {}, {}]}]}', 8, 2), { kind: 'list', path: 'items[1].messages' });
  t.same(jsonShapeProblem('[1,2,3]', 8, 2), { kind: 'list', path: 'body' });
  t.same(jsonShapeProblem('{"a":{"b":[[1],[1,2,3]]}}', 8, 2), { kind: 'list', path: 'a.b[1]' });
  t.equal(jsonShapeProblem('{"items":["[,,,,]", "\\"[[[[,"]}', 2, 2), undefined, 'brackets, commas and escaped quotes in strings');
  t.equal(jsonShapeProblem('{"items":[ ]}', 8, 0), undefined, 'an empty list has no elements');
  t.same(jsonShapeProblem('[[[[]]]]', 3, 10), { kind: 'depth' });
});

t.test('lists of numbers only (token ids) have their own limit when one is given', async (t) => {
  t.equal(jsonShapeProblem('{"items":[{"input_ids":[1,2,3,-4]}]}', 8, 2, 4), undefined, 'four numbers pass a numbers limit of 4 over a list limit of 2');
  t.same(jsonShapeProblem('{"items":[{"input_ids":[1,2,3,4,5]}]}', 8, 2, 4), { kind: 'numbers', path: 'items[0].input_ids' });
  t.same(jsonShapeProblem('{"input":[1,2,"a"]}', 8, 2, 4), { kind: 'list', path: 'input' }, 'a string among numbers: an ordinary list');
  t.same(jsonShapeProblem('{"input":[[1],[2],[3]]}', 8, 2, 4), { kind: 'list', path: 'input' }, 'a list of id lists counts its lists');
  t.same(jsonShapeProblem('[1,2,3]', 8, 4, 2), { kind: 'numbers', path: 'body' }, 'a numbers limit below the list limit binds too');
});
