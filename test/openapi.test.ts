import { readFileSync } from 'node:fs';
import t from 'tap';
import { openApiText } from '../src/server/openapi.js';

t.test('openapi/openapi.json matches the route schemas (regenerate with `npm run openapi`)', async (t) => {
  const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8');
  const generated = await openApiText();
  t.same(JSON.parse(committed), JSON.parse(generated), 'committed spec is stale: run `npm run openapi`');
});

t.test('the spec documents every API route with its schemas', async (t) => {
  const doc = JSON.parse(await openApiText());
  t.same(Object.keys(doc.paths).sort(), ['/classify', '/get_reward', '/health', '/metrics', '/predict', '/ready', '/rerank', '/reward', '/tokenize', '/v1/embeddings', '/v1/info', '/v1/rank', '/v1/score']);
  const score = doc.paths['/v1/score'].post;
  t.equal(score.requestBody.content['application/json'].schema.$ref, '#/components/schemas/ScoreRequestInput');
  t.equal(score.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/ScoreResponse');
  t.equal(score.responses['4XX'].content['application/json'].schema.$ref, '#/components/schemas/Error');
  const item = doc.components.schemas.ScoreItemInput;
  t.equal(item.anyOf.length, 4, 'four item shapes: prompt/completion, messages, text, input_ids');
  t.same(doc.components.schemas.TokenIdsItemInput.properties.input_ids.items, { type: 'integer', minimum: 0 }, 'token ids are documented as integers although one loop checks them');
  t.equal(doc.components.schemas.ScoreRequestInput.additionalProperties, false, 'requests are strict');
});
