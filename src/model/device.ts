/**
 * Devices: which onnxruntime execution providers a `--device` asks for, and opening a session on
 * them. An explicitly requested device that cannot load stops start-up with how to install it;
 * `auto` takes the best one that loads (cuda, then webgpu, then cpu).
 *
 * `webgpu` runs on any Vulkan device, software ones included: Mesa's lavapipe (Mesa 25+; Dawn
 * refuses older ones) runs the shaders on the CPU, far slower than the CPU provider, and is what
 * the tests run the GPU code path on (test/gpu/webgpu.test.ts). So `auto` tries webgpu only where
 * the machine has a GPU device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg); `--device
 * webgpu` asks for it anywhere.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { errors } from '../errors.js';
import type { Device } from './device-names.js';

export { DEVICES, type Device } from './device-names.js';

/** Providers per device, in onnxruntime's preference order (CPU takes the nodes a GPU provider cannot). */
const PROVIDERS: Record<Exclude<Device, 'auto'>, string[]> = {
  cpu: ['cpu'],
  cuda: ['cuda', 'cpu'],
  tensorrt: ['tensorrt', 'cuda', 'cpu'],
  webgpu: ['webgpu', 'cpu'],
};

/** What `auto` tries, best first. TensorRT is left out: its engine build can take minutes at start-up. */
const AUTO_ORDER: Exclude<Device, 'auto'>[] = ['cuda', 'webgpu', 'cpu'];

const INSTALL_HINT: Record<Exclude<Device, 'auto' | 'cpu'>, string> = {
  cuda: "install onnxruntime-node's CUDA 12 binaries (after npm ci: ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install, or use docker/Dockerfile.gpu) and make CUDA 12 + cuDNN 9 libraries loadable",
  tensorrt: "install onnxruntime-node's CUDA 12 binaries (after npm ci: ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install) and TensorRT 10 libraries on the library path",
  webgpu:
    "needs a Vulkan loader and driver: libvulkan1 and the GPU vendor's Vulkan driver (NVIDIA's driver ships one), or for a software device Mesa's mesa-vulkan-drivers 25+ (lavapipe; on Debian 12 from bookworm-backports); VK_DRIVER_FILES picks a driver's JSON file",
};

/** Whether the machine has a GPU device node: without one, any Vulkan device is a software one. */
export function hasGpuNode(dev = '/dev'): boolean {
  const dri = `${dev}/dri`;
  if (existsSync(dri) && readdirSync(dri).some((name) => name.startsWith('renderD'))) return true;
  return existsSync(`${dev}/dxg`) || (existsSync(dev) && readdirSync(dev).some((name) => /^nvidia\d+$/.test(name)));
}

/** A session and the device it runs on. */
export interface DeviceSession {
  session: ort.InferenceSession;
  device: Exclude<Device, 'auto'>;
}

/** Open `modelFile` on `device`; `auto` falls back through AUTO_ORDER. */
export async function createSessionOn(
  modelFile: string,
  device: Device,
  options: ort.InferenceSession.SessionOptions,
): Promise<DeviceSession> {
  const candidates = device === 'auto' ? AUTO_ORDER : [device];
  const failures: string[] = [];
  for (const candidate of candidates) {
    if (device === 'auto' && candidate === 'webgpu' && !hasGpuNode()) {
      failures.push('webgpu: no GPU device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg), so a Vulkan device here is a software one; --device webgpu runs on it anyway');
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(modelFile, { ...options, executionProviders: PROVIDERS[candidate] });
      return { session, device: candidate };
    } catch (err) {
      failures.push(`${candidate}: ${(err as Error).message.split('\n')[0]}`);
      if (candidate !== 'cpu' && device !== 'auto') {
        throw errors.model(modelFile, `device '${candidate}' cannot load (${failures.at(-1)}); ${INSTALL_HINT[candidate]}; or start with --device cpu`);
      }
    }
  }
  throw errors.model(
    modelFile,
    `onnxruntime cannot load the graph (external weights must sit beside it as model.onnx_data): ${failures.join('; ')}`,
  );
}
