/**
 * The `--device` names, apart from the code that opens sessions on them (device.ts, which loads
 * onnxruntime-node's native runtime), so the config schema, `--help` and the OpenAPI document can
 * list them without loading it.
 */

/** The `--device` values. */
export const DEVICES = ['cpu', 'cuda', 'tensorrt', 'webgpu', 'auto'] as const;
export type Device = (typeof DEVICES)[number];
