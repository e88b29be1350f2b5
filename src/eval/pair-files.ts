/**
 * Preference pairs from several files, optionally restricted to one split: what `--data FILE...
 * [--split FILE:NAME]` means for `warm-serve eval` and `warm-serve merge`.
 */
import { openPairFile, readPairs, type PairFile, type PreferencePair } from './pairs.js';
import { loadSplit, rowsFor, type SplitSelection } from './splits.js';

/** The pairs of `files` (in file order), each file's own, and the split they were cut to. */
export interface PairSet {
  pairs: PreferencePair[];
  files: PairFile[];
  split?: SplitSelection;
}

/**
 * Check, before anything is read in full, scored or written, that every file opens and, with a
 * split, has rows in it; errors name `option` (`--data`, `--calibrate`) or `--split`.
 */
export async function checkPairFiles(files: readonly string[], split: SplitSelection | undefined, option = '--data'): Promise<void> {
  for (const file of files) {
    await (await openPairFile(file, option)).close();
    if (split) rowsFor(split, file, option);
  }
}

/**
 * Read every file's pairs (the `split` rows only, when given, as `FILE:NAME` or loaded); `log`
 * gets one line per file. Every file is checked (checkPairFiles) before the first is read.
 */
export async function readPairFiles(
  files: readonly string[],
  split?: string | SplitSelection,
  log?: (line: string) => void,
  option = '--data',
): Promise<PairSet> {
  const selection = typeof split === 'string' ? await loadSplit(split) : split;
  await checkPairFiles(files, selection, option);
  const perFile: PairFile[] = [];
  for (const file of files) {
    const read = await readPairs(file, selection ? rowsFor(selection, file, option) : undefined, option);
    log?.(`${file}: ${read.pairs.length} pairs (${read.formats.join(', ') || 'none'}; ${read.droppedIdentical} identical dropped)`);
    perFile.push(read);
  }
  return { pairs: perFile.flatMap((f) => f.pairs), files: perFile, split: selection };
}

/** How many pairs `--limit` took from one file, of how many it has. */
export interface PairsTaken {
  path: string;
  taken: number;
  of: number;
}

/**
 * `--limit N` over several files: N pairs in all, shared among the files in proportion to their
 * pair counts (largest remainder; ties go to the earlier file), the first ones of each file. The
 * limited set then mixes the files as the whole set does, so its accuracy estimates the same thing.
 */
export function limitPairs(files: readonly PairFile[], limit: number): { pairs: PreferencePair[]; taken: PairsTaken[] } {
  const total = files.reduce((n, f) => n + f.pairs.length, 0);
  const n = Math.min(limit, total);
  const quota = files.map((f) => (total === 0 ? 0 : (n * f.pairs.length) / total));
  const counts = quota.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const byRemainder = quota.map((q, i) => ({ i, rest: q - Math.floor(q) })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left === 0) break;
    counts[i] += 1;
    left -= 1;
  }
  return {
    pairs: files.flatMap((f, i) => f.pairs.slice(0, counts[i])),
    taken: files.map((f, i) => ({ path: f.path, taken: counts[i], of: f.pairs.length })),
  };
}
