/**
 * Turn request-validation issues (zod, through fastify-type-provider-zod) into one message
 * that names each bad field by its path (`items[2].completion`) and the rule it broke.
 */

/** The part of a fastify validation entry we read (zod issue fields land in `params`). */
export interface ValidationEntry {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** A zod issue, or one carried inside `params.errors` of a union failure. */
interface ZodIssueLike {
  code: string;
  path: readonly PropertyKey[];
  message: string;
  keys?: string[];
  errors?: ZodIssueLike[][];
}

const MAX_ISSUES = 5;

/** `items[0].messages[1].role`, or `body` for the root. */
function fieldPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    const s = String(segment);
    out += /^\d+$/.test(s) ? `[${s}]` : out === '' ? s : `.${s}`;
  }
  return out === '' ? 'body' : out;
}

function describe(issue: ZodIssueLike, base: PropertyKey[]): string {
  const path = [...base, ...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return `${fieldPath(path)}: unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  }
  if (issue.code === 'invalid_union' && issue.errors) {
    // A union declared with its own message (the compatibility schemas) says best what it wants.
    if (issue.message !== 'Invalid input') return `${fieldPath(path)}: ${issue.message}`;
    return describeUnion(issue.errors, path);
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    return `${fieldPath(path)}: is required (${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined/, '')})`;
  }
  return `${fieldPath(path)}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

/**
 * A score item matched none of its shapes. The shapes whose keys the item has are the
 * candidates (an item with `messages` is a chat, however many of its messages are wrong); when
 * one of them is clearly the closest (fewest problems), name what is wrong with it; otherwise
 * list the shapes.
 */
function describeUnion(allBranches: ZodIssueLike[][], path: PropertyKey[]): string {
  const keysMatch = allBranches.filter((b) => !b.some((i) => i.path.length === 0 && i.code === 'unrecognized_keys'));
  const branches = keysMatch.length > 0 ? keysMatch : allBranches;
  const sizes = branches.map((b) => b.length);
  const fewest = Math.min(...sizes);
  const closest = branches.filter((b) => b.length === fewest);
  const rootTypeError = closest[0]?.some((i) => i.path.length === 0 && i.code === 'invalid_type');
  if (closest.length === 1 && !rootTypeError) return issuesMessage(closest[0], path);
  return `${fieldPath(path)}: expected an object of one of the shapes {"prompt", "completion"}, {"messages"}, {"text"} or {"input_ids"}`;
}

/**
 * One line naming the first few invalid fields of zod issues under `base`, then a count of the
 * rest (`total` issues in all). Only the shown issues are formatted: a body can carry millions.
 */
export function issuesMessage(issues: readonly ZodIssueLike[], base: PropertyKey[] = [], total = issues.length): string {
  const shown = issues.slice(0, MAX_ISSUES).map((issue) => describe(issue, base)).join('; ');
  return total > MAX_ISSUES ? `${shown}; and ${total - MAX_ISSUES} more` : shown;
}

/** The same line for fastify's validation entries (zod issues with their path in instancePath). */
export function validationMessage(entries: ValidationEntry[]): string {
  const issues = entries.slice(0, MAX_ISSUES).map((e) => ({
    ...e.params,
    code: e.keyword,
    path: e.instancePath.split('/').filter((s) => s !== ''),
    message: e.message ?? 'invalid',
  }));
  return issuesMessage(issues, [], entries.length);
}
