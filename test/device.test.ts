/**
 * --device: explicit devices that cannot load stop start-up with how to install them; auto falls
 * back. webgpu runs here on Mesa's software Vulkan device (scripts/test-deps.sh installs it); the
 * GPU code path itself, rewards and all: test/gpu/webgpu.test.ts.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSessionOn, hasGpuNode } from '../src/model/device.js';

const root = join(import.meta.dirname, '..');
const model = join(root, 'models', 'reference', 'model.onnx');
// package.json's allowScripts skips onnxruntime-node's CUDA download, so a CPU checkout has no CUDA provider.
const cudaInstalled = existsSync(join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'));

t.test('cpu opens the model', async (t) => {
  const { session, device } = await createSessionOn(model, 'cpu', {});
  t.equal(device, 'cpu');
  t.same(session.inputNames.filter((n) => !n.startsWith('past_key_values.')).sort(), ['attention_mask', 'input_ids']);
  t.equal(session.inputNames.filter((n) => n.startsWith('past_key_values.')).length, 10, 'and a past: 5 layers, key and value');
  await session.release();
});

t.test('cuda without the CUDA build refuses with how to install it', { skip: cudaInstalled && 'CUDA binaries installed here' }, async (t) => {
  await t.rejects(createSessionOn(model, 'cuda', {}), /device 'cuda' cannot load .*ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install.*--device cpu/);
  await t.rejects(createSessionOn(model, 'tensorrt', {}), /device 'tensorrt' cannot load .*TensorRT/);
});

t.test('webgpu opens the model on a Vulkan device', async (t) => {
  try {
    const { session, device } = await createSessionOn(model, 'webgpu', {});
    t.equal(device, 'webgpu');
    await session.release();
  } catch (err) {
    t.fail(`no Vulkan device for webgpu (Debian: mesa-vulkan-drivers 25+ and libvulkan1; npm test installs them as root, scripts/test-deps.sh): ${(err as Error).message}`);
  }
});

t.test('serve --device webgpu without a Vulkan driver exits 1 saying what it needs', async (t) => {
  const run = promisify(execFile);
  const env = { ...process.env, VK_DRIVER_FILES: '/nonexistent/icd.json', VK_ICD_FILENAMES: '/nonexistent/icd.json' };
  await t.rejects(run(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--port', '0', '--device', 'webgpu', '--log-level', 'silent'], { env }), {
    code: 1,
    stderr: /device 'webgpu' cannot load \(webgpu: .*No supported adapters\); needs a Vulkan loader and driver: .*mesa-vulkan-drivers 25\+ .*--device cpu/,
  });
});

t.test('auto takes the best device that loads and reports it; a software Vulkan device is not taken', async (t) => {
  const { session, device } = await createSessionOn(model, 'auto', {});
  t.ok(['cuda', 'webgpu', 'cpu'].includes(device));
  if (!cudaInstalled) t.equal(device, hasGpuNode() ? 'webgpu' : 'cpu', `no CUDA build: webgpu where a GPU node exists (here: ${hasGpuNode()}), else cpu`);
  await session.release();

  const dev = await mkdtemp(join(tmpdir(), 'warm-dev-'));
  t.teardown(() => rm(dev, { recursive: true, force: true }));
  t.notOk(hasGpuNode(dev), 'an empty /dev: no GPU');
  await mkdir(join(dev, 'dri'));
  await writeFile(join(dev, 'dri', 'card0'), '');
  t.notOk(hasGpuNode(dev), 'a DRM card without a render node (a display-only device)');
  await writeFile(join(dev, 'dri', 'renderD128'), '');
  t.ok(hasGpuNode(dev), 'a render node');
  await rm(join(dev, 'dri'), { recursive: true });
  await writeFile(join(dev, 'nvidiactl'), '');
  t.notOk(hasGpuNode(dev), 'nvidiactl alone is no GPU');
  await writeFile(join(dev, 'nvidia0'), '');
  t.ok(hasGpuNode(dev), 'an NVIDIA GPU');
});

t.test('serve --device cuda on a CPU install exits 1 with the install hint', { skip: cudaInstalled && 'CUDA binaries installed here' }, async (t) => {
  const run = promisify(execFile);
  await t.rejects(run(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--port', '0', '--device', 'cuda', '--log-level', 'silent']), {
    code: 1,
    stderr: /device 'cuda' cannot load.*ONNXRUNTIME_NODE_INSTALL=cuda12/,
  });
});
