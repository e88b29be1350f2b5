import t from 'tap';
import { VERSION } from '../src/version.js';

t.test('version is read from package.json', async (t) => {
  t.match(VERSION, /^\d+\.\d+\.\d+/);
});
