/** --device: explicit devices that cannot load stop start-up with how to install them; auto falls back. */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSessionOn } from '../src/model/device.js';

const root = join(import.meta.dirname, '..');
const model = join(root, 'models', 'reference', 'model.onnx');
// package.json's allowScripts skips onnxruntime-node's CUDA download, so a CPU checkout has no CUDA provider.
const cudaInstalled = existsSync(join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'));

t.test('cpu opens the model', async (t) => {
  const { session, device } = await createSessionOn(model, 'cpu', {});
  t.equal(device, 'cpu');
  t.same([...session.inputNames].sort(), ['attention_mask', 'input_ids']);
  await session.release();
});

t.test('cuda without the CUDA build refuses with how to install it', { skip: cudaInstalled && 'CUDA binaries installed here' }, async (t) => {
  await t.rejects(createSessionOn(model, 'cuda', {}), /device 'cuda' cannot load .*ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install.*--device cpu/);
  await t.rejects(createSessionOn(model, 'tensorrt', {}), /device 'tensorrt' cannot load .*TensorRT/);
});

t.test('webgpu either runs on a GPU or says what it needs', async (t) => {
  try {
    const { session, device } = await createSessionOn(model, 'webgpu', {});
    t.equal(device, 'webgpu');
    await session.release();
  } catch (err) {
    t.match((err as Error).message, /device 'webgpu' cannot load .*Vulkan/);
  }
});

t.test('auto takes the best device that loads and reports it', async (t) => {
  const { session, device } = await createSessionOn(model, 'auto', {});
  t.ok(['cuda', 'webgpu', 'cpu'].includes(device));
  if (!cudaInstalled) t.not(device, 'cuda');
  await session.release();
});

t.test('serve --device cuda on a CPU install exits 1 with the install hint', { skip: cudaInstalled && 'CUDA binaries installed here' }, async (t) => {
  const run = promisify(execFile);
  await t.rejects(run(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--port', '0', '--device', 'cuda', '--log-level', 'silent']), {
    code: 1,
    stderr: /device 'cuda' cannot load.*ONNXRUNTIME_NODE_INSTALL=cuda12/,
  });
});
