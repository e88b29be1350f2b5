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
