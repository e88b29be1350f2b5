#!/usr/bin/env node
// Overload check: open-loop load at 5x the measured capacity for 60 s against a spawned
// `warm-serve serve` (the built CLI). Every request must be answered (200 with the one-at-a-time
// rewards, or 503 with Retry-After), resident memory must stay under the bound (default 1 GiB),
// and a closed-loop phase right after must run at >= 0.7x the pre-overload rate.
//
//   npm run build && node scripts/overload.mjs [--overload-s 60] [--factor 5] [--rss-bound-mib 1024] [-- serve flags]
// (the reward cache is off: see OVERLOAD_DEFAULTS.serverArgs; serve flags given here come after)
//
// Prints a JSON report; exit status 1 when a check fails. test/serial/overload.test.ts runs the same
// check for 10 s in CI.
import { parseArgs } from 'node:util';
import { OVERLOAD_DEFAULTS, runOverload } from './load/overload.mjs';

const { values, positionals } = parseArgs({
  options: {
    'overload-s': { type: 'string', default: String(OVERLOAD_DEFAULTS.overloadS) },
    factor: { type: 'string', default: String(OVERLOAD_DEFAULTS.factor) },
    'rss-bound-mib': { type: 'string', default: String(OVERLOAD_DEFAULTS.rssBoundBytes / 2 ** 20) },
  },
  allowPositionals: true,
});
const report = await runOverload(
  { overloadS: Number(values['overload-s']), factor: Number(values.factor), rssBoundBytes: Number(values['rss-bound-mib']) * 2 ** 20, serverArgs: [...OVERLOAD_DEFAULTS.serverArgs, ...positionals] },
  (line) => process.stderr.write(`overload: ${line}\n`),
);
const passed = report.failures.length === 0 && report.speed_failures.length === 0;
process.stdout.write(`${JSON.stringify(report, null, 2)}\n${passed ? 'overload: PASS' : 'overload: FAIL'}\n`);
process.exit(passed ? 0 : 1);
