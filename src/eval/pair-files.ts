/**
 * Preference pairs from several files, optionally restricted to one split: what `--data FILE...
 * [--split FILE:NAME]` means for `warm-serve eval` and `warm-serve merge`.
 */
import { readPairs, type PreferencePair } from './pairs.js';
import { loadSplit, rowsFor, type SplitSelection } from './splits.js';

/** The pairs of `files` (in file order) and the split they were cut to. */
export interface PairSet {
  pairs: PreferencePair[];
  split?: SplitSelection;
}

/** Read every file's pairs (the `split` rows only, when given); `log` gets one line per file. */
export async function readPairFiles(files: readonly string[], split?: string, log?: (line: string) => void): Promise<PairSet> {
  const selection = split === undefined ? undefined : await loadSplit(split);
  const pairs: PreferencePair[] = [];
  for (const file of files) {
    const read = await readPairs(file, selection ? rowsFor(selection, file) : undefined);
    log?.(`${file}: ${read.pairs.length} pairs (${read.formats.join(', ') || 'none'}; ${read.droppedIdentical} identical dropped)`);
    pairs.push(...read.pairs);
  }
  return { pairs, split: selection };
}
