/**
 * `warm-serve serve`: run the HTTP server until SIGTERM/SIGINT, then drain. Exit status:
 * 0 clean shutdown, 1 start-up failure or drain timeout, 2 invalid settings (config_error: also a
 * setting found unusable at start-up, like an API key file or max_batch_tokens below the model's
 * max_length).
 */
import { ConfigError, loadServeConfig } from '../config/load.js';
import { serveHelp } from '../config/help.js';
import { WarmServeError } from '../errors.js';
import { createLogger } from '../server/logger.js';
import { startServer, type RunningServer } from '../server/start.js';

/** Run the command; resolves with the exit status once the server has stopped. */
export async function run(argv: string[]): Promise<number> {
  let request;
  try {
    request = loadServeConfig(argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`warm-serve serve: ${err.message}\n`);
    return err.exitCode;
  }
  if (request.help) {
    process.stdout.write(serveHelp());
    return 0;
  }
  const { config } = request;
  const log = createLogger(config.log_level);

  // A signal can arrive while the model is still loading: remember it and stop once started.
  let signalled: NodeJS.Signals | undefined;
  let server: RunningServer | undefined;
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  const stop = async () => resolveStopped((await server!.stop()) ? 0 : 1);
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(1);
    }
    signalled = signal;
    log.info({ signal }, 'shutting down');
    if (server) void stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    server = await startServer(config, log);
  } catch (err) {
    // A setting found unusable at start-up is a settings problem like any other: one line naming
    // it and where its value came from, exit 2, no fatal log (nothing failed but the settings).
    if (err instanceof ConfigError) {
      process.stderr.write(`warm-serve serve: cannot start: ${err.withSources(request.sources).message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    log.fatal({ err, error_type: err instanceof WarmServeError ? err.type : undefined }, `cannot start: ${message}`);
    process.stderr.write(`warm-serve serve: cannot start: ${message}\n`);
    return err instanceof WarmServeError ? err.exitCode : 1;
  }
  if (signalled) void stop();
  const code = await stopped;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
