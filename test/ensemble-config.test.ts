/** The ensemble settings: a bare --ensemble flag, WARM_SERVE_ENSEMBLE words, and uwo_lambda bounds. */
import t from 'tap';
import { ConfigError, loadServeConfig } from '../src/config/load.js';
import { serveHelp } from '../src/config/help.js';

function config(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const loaded = loadServeConfig(argv, env);
  if (loaded.help) throw new Error('unexpected help');
  return loaded.config;
}

t.test('ensemble is off by default, on with a bare --ensemble flag', async (t) => {
  t.equal(config([]).ensemble, false);
  t.equal(config([]).uwo_lambda, 0.5);
  const on = config(['--ensemble', '--uwo-lambda', '0.25']);
  t.equal(on.ensemble, true);
  t.equal(on.uwo_lambda, 0.25);
  t.match(serveHelp(), /--ensemble {2,}also load the members/);
});

t.test('WARM_SERVE_ENSEMBLE takes true/false words; anything else is refused by name', async (t) => {
  for (const word of ['true', '1', 'yes', 'TRUE']) t.equal(config([], { WARM_SERVE_ENSEMBLE: word }).ensemble, true, word);
  for (const word of ['false', '0', 'no']) t.equal(config([], { WARM_SERVE_ENSEMBLE: word }).ensemble, false, word);
  t.equal(config(['--ensemble'], { WARM_SERVE_ENSEMBLE: 'false' }).ensemble, true, 'the flag wins over env');
  t.throws(() => config([], { WARM_SERVE_ENSEMBLE: 'maybe' }), ConfigError);
  t.throws(() => config([], { WARM_SERVE_ENSEMBLE: 'maybe' }), /ensemble \(from env WARM_SERVE_ENSEMBLE\)/);
  t.throws(() => config(['--uwo-lambda=-1']), /uwo_lambda \(from --uwo-lambda\)/);
});
