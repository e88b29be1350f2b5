import t from 'tap';
import { PassThrough } from 'node:stream';
import { Progress } from '../src/merge/progress.js';

function stream(isTTY: boolean) {
  const s = Object.assign(new PassThrough(), { isTTY });
  let text = '';
  s.on('data', (c) => (text += c));
  return { s, text: () => text };
}

t.test('on a terminal: a live line of tensors and bytes, then the summary', async (t) => {
  const { s, text } = stream(true);
  const p = new Progress({ stream: s, quiet: false });
  p.start('safetensors', 2, 3 * 2 ** 20);
  p.addBytes(2 ** 20);
  p.tensorDone();
  p.addBytes(2 * 2 ** 20);
  p.tensorDone();
  p.end();
  p.info('done');
  t.match(text(), /\r\x1b\[Ksafetensors: 0\/2 tensors, 0\.0 KiB \/ 3\.0 MiB read \(0%\)/);
  t.match(text(), /safetensors: 2\/2 tensors, 3\.0 MiB \/ 3\.0 MiB read \(100%\)\n/);
  t.match(text(), /\r\x1b\[Kdone\n$/);
});

t.test('not a terminal: no live line, only summary and warnings; --quiet keeps only warnings', async (t) => {
  const plain = stream(false);
  const p = new Progress({ stream: plain.s, quiet: false });
  p.start('onnx', 1, 10);
  p.addBytes(10);
  p.tensorDone();
  p.end();
  p.info('summary');
  p.warn('careful');
  t.equal(plain.text(), 'summary\nwarning: careful\n');
  const quiet = stream(true);
  const q = new Progress({ stream: quiet.s, quiet: true });
  q.start('onnx', 1, 10);
  q.tensorDone();
  q.end();
  q.info('summary');
  q.warn('careful');
  t.equal(quiet.text(), 'warning: careful\n');
});
