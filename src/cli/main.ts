#!/usr/bin/env node
/** `warm-serve <command>`: one file per command in this folder, loaded on demand. */
import { errors, WarmServeError } from '../errors.js';
import { VERSION } from '../version.js';

type Command = { describe: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const COMMANDS: Record<string, Command> = {
  // each command module exports run(argv) -> exit code
  serve: { describe: 'serve a reward model over HTTP (score, rank, info, metrics)', load: () => import('./serve.js') },
  merge: { describe: 'weight-average M reward models (WARM) into one model directory', load: () => import('./merge.js') },
  score: { describe: 'score a JSON Lines file of items offline (same formatting and model as the server)', load: () => import('./score.js') },
  eval: { describe: 'pairwise accuracy of a model, its members and their ensemble on preference data', load: () => import('./eval.js') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.describe}`);
  return `warm-serve ${VERSION}: serve weight-averaged reward models (WARM)\n\nUsage: warm-serve <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'warm-serve <command> --help' for a command's options.\n`;
}

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const err = errors.usage(`unknown command '${name}'`);
    process.stderr.write(`warm-serve: ${err.message}\n\n${usage()}`);
    return err.exitCode;
  }
  return (await command.load()).run(rest);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A catalogue error a command did not handle (e.g. the model cannot load): its message and exit status.
    process.stderr.write(`warm-serve: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof WarmServeError ? err.exitCode : 1;
  },
);
