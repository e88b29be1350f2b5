/**
 * `warm-serve score` on a real file: every answer (chosen and rejected) of HH-RLHF
 * helpful-rejection-sampled test (../shared/data) as a {"text"} line, 5,498 lines, scored by the
 * built CLI with the reference model. Prints items/s per run (wall time of the whole command,
 * model loading included). The README's offline-scoring figure comes from here.
 *
 *   npm run build && node bench/score-file.mjs [--runs 2]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' } } });
const DATA = join(import.meta.dirname, '..', '..', 'shared', 'data', 'hh-rlhf', 'helpful-rejection-sampled', 'test.jsonl.gz');
const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');

const rows = gunzipSync(readFileSync(DATA)).toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const lines = rows.flatMap((row) => [row.chosen, row.rejected]).map((text, id) => JSON.stringify({ id, text }));
const dir = mkdtempSync(join(tmpdir(), 'score-file-'));
try {
  const input = join(dir, 'hh.jsonl');
  writeFileSync(input, lines.join('\n') + '\n');
  for (let run = 1; run <= Number(values.runs); run++) {
    const started = performance.now();
    execFileSync(process.execPath, [CLI, 'score', '--input', input, '--output', join(dir, 'out.jsonl')], { stdio: ['ignore', 'ignore', 'ignore'] });
    const s = (performance.now() - started) / 1000;
    const scored = readFileSync(join(dir, 'out.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    console.log(`run ${run}: ${scored} of ${lines.length} lines scored in ${s.toFixed(1)} s = ${(scored / s).toFixed(0)} items/s`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
