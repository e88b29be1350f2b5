/**
 * The ensure_eos start-up warning (issue 18.1a): a directory served without warm.json's
 * ensure_eos, whose tokenizer.json appends no EOS, is scored without a final EOS, which is not
 * how a model trained with EOS appended (models/reference) was trained. loadModelDirectory says
 * so in `warnings`, naming what to do; setting ensure_eos either way, or a tokenizer that appends
 * EOS itself, silences it.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { loadModelDirectory, postProcessorAppends } from '../src/model/directory.js';
import { editJson, REFERENCE, referenceCopy } from './helpers/reference-copy.js';

t.test('the reference model (ensure_eos: true in warm.json) loads without warnings', async (t) => {
  t.same((await loadModelDirectory(REFERENCE)).warnings, []);
});

t.test('without warm.json: one warning naming the EOS token, the file to write and both choices', async (t) => {
  const path = await referenceCopy(t);
  await rm(join(path, 'warm.json'));
  const { warnings, ensureEos } = await loadModelDirectory(path);
  t.equal(ensureEos, false, 'items are scored without EOS');
  t.equal(warnings.length, 1);
  t.match(warnings[0], /^there is no warm\.json and tokenizer\.json does not append the EOS token '<\/s>', so items are scored without a final EOS;/);
  t.match(warnings[0], `Set "ensure_eos" in ${join(path, 'warm.json')}: true to append EOS as in training, false to score items as they are`);
});

t.test('a warm.json that does not set ensure_eos warns; setting it either way silences the warning', async (t) => {
  const path = await referenceCopy(t);
  await editJson(join(path, 'warm.json'), (j) => delete j.ensure_eos);
  const [warning] = (await loadModelDirectory(path)).warnings;
  t.match(warning, /^warm\.json does not set ensure_eos and tokenizer\.json does not append the EOS token '<\/s>'/);
  for (const value of [true, false]) {
    await editJson(join(path, 'warm.json'), (j) => (j.ensure_eos = value));
    t.same((await loadModelDirectory(path)).warnings, [], `ensure_eos: ${value}`);
  }
});

t.test('no warning when the tokenizer appends EOS itself, or the model names no EOS token', async (t) => {
  const appends = await referenceCopy(t, { name: 'appends-eos' });
  await rm(join(appends, 'warm.json'));
  await editJson(join(appends, 'tokenizer.json'), (j) => {
    j.post_processor.single.push({ SpecialToken: { id: '</s>', type_id: 0 } });
    j.post_processor.special_tokens['</s>'] = { id: '</s>', ids: [2], tokens: ['</s>'] };
  });
  t.same((await loadModelDirectory(appends)).warnings, [], 'TemplateProcessing ending with </s>');

  const noEos = await referenceCopy(t, { name: 'no-eos' });
  await rm(join(noEos, 'warm.json'));
  await editJson(join(noEos, 'tokenizer_config.json'), (j) => delete j.eos_token);
  await editJson(join(noEos, 'config.json'), (j) => delete j.eos_token_id);
  t.same((await loadModelDirectory(noEos)).warnings, [], 'nothing ensure_eos could append');
});

t.test('an unreadable tokenizer.json is left to the tokenizer load to report', async (t) => {
  const path = await referenceCopy(t);
  await rm(join(path, 'warm.json'));
  await writeFile(join(path, 'tokenizer.json'), 'version https://git-lfs.github.com/spec/v1\n');
  t.same((await loadModelDirectory(path)).warnings, []);
});

t.test('post-processors that append EOS, by content or id', async (t) => {
  const eos = { content: '</s>' };
  t.equal(postProcessorAppends(null, eos), false, 'none');
  t.equal(postProcessorAppends({ type: 'ByteLevel', trim_offsets: false }, eos), false, 'ByteLevel');
  t.equal(postProcessorAppends({ type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0] }, eos), true, 'Roberta: sep is EOS');
  t.equal(postProcessorAppends({ type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] }, { content: '[EOS]' }), false, 'Bert: sep is not EOS');
  t.equal(postProcessorAppends({ type: 'BertProcessing', sep: ['[SEP]', 102] }, { id: 102 }), true, 'Bert: by config eos_token_id');
  const template = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: 'bos', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: 'eos', type_id: 0 } }],
    special_tokens: { bos: { id: 'bos', ids: [1], tokens: ['<s>'] }, eos: { id: 'eos', ids: [2], tokens: ['</s>'] } },
  };
  t.equal(postProcessorAppends(template, eos), true, 'TemplateProcessing: special token named eos whose token is </s>');
  t.equal(postProcessorAppends({ type: 'Sequence', processors: [{ type: 'ByteLevel' }, template] }, eos), true, 'Sequence holding it');
  t.equal(postProcessorAppends({ ...template, single: template.single.slice(0, 2) }, eos), false, 'template ending with the sequence');
});
