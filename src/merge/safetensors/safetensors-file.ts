/**
 * The safetensors file format: an 8-byte little-endian u64 header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, then
 * the data section. Offsets are relative to the data section and may exceed 2^32 (files > 4 GiB),
 * so they are handled as plain numbers (exact up to 2^53) and read with positioned reads.
 */
import { open } from 'node:fs/promises';
import { errors } from '../../errors.js';
import { DTYPE_SIZE, elementCount, isDType, type DType } from '../tensor/dtype.js';
import { unsupportedTypeProblem } from '../tensor/quantization.js';

/** Headers over this size are refused, as the reference implementation does (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor entry of a safetensors header; `begin`/`end` are relative to the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** A parsed, validated safetensors header. */
export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Absolute file position of the data section (8 + header length). */
  dataStart: number;
  metadata: Record<string, string>;
  /** In header order. */
  tensors: SafetensorsEntry[];
}

/** Reads and validates the header of `path`; `label` names the input in errors. */
export async function readSafetensorsHeader(path: string, label: string): Promise<SafetensorsHeader> {
  const handle = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw errors.merge(label, undefined, `cannot open ${path}: ${e.code ?? e.message}`);
  });
  try {
    const fileSize = (await handle.stat()).size;
    const fail = (problem: string) => errors.merge(label, undefined, `${path}: ${problem}`);
    if (fileSize < 8) throw fail(`file is ${fileSize} bytes, too short for the 8-byte header length (truncated?)`);
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const headerLength = prefix.readBigUInt64LE(0);
    if (headerLength > BigInt(fileSize - 8)) {
      throw fail(`header length ${headerLength} exceeds the ${fileSize - 8} bytes after the length field (truncated or not safetensors)`);
    }
    if (headerLength > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
    const json = Buffer.alloc(Number(headerLength));
    await handle.read(json, 0, json.length, 8);
    return parseSafetensorsHeader(json, fileSize, path, label);
  } finally {
    await handle.close();
  }
}

/** Validates header JSON bytes against the file size: dtypes, shapes, offsets in range and consistent. */
export function parseSafetensorsHeader(json: Buffer, fileSize: number, path: string, label: string): SafetensorsHeader {
  const fail = (tensor: string | undefined, problem: string) => errors.merge(label, tensor, `${path}: ${problem}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw fail(undefined, `header is not valid JSON (${(e as Error).message}); the file is corrupt or not safetensors`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail(undefined, 'header is not a JSON object');
  const dataStart = 8 + json.length;
  const dataSize = fileSize - dataStart;
  // Keys are data: a null-prototype object keeps '__proto__' as an ordinary key (on a plain object,
  // assigning it would set the prototype and drop the entry).
  const metadata: Record<string, string> = Object.create(null);
  const tensors: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null) throw fail(undefined, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw fail(undefined, `__metadata__ key '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== 'object' || entry === null) throw fail(name, 'header entry is not an object');
    if (typeof entry.dtype !== 'string') throw fail(name, 'dtype is missing');
    if (!isDType(entry.dtype)) throw fail(name, unsupportedTypeProblem(entry.dtype));
    const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
    if (!Array.isArray(entry.shape) || !entry.shape.every(isCount)) throw fail(name, 'shape is not a list of non-negative integers');
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw fail(name, 'data_offsets is not [begin, end] with 0 <= begin <= end');
    }
    const [begin, end] = offsets as [number, number];
    const needed = elementCount(entry.shape) * DTYPE_SIZE[entry.dtype];
    if (end - begin !== needed) {
      throw fail(name, `data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${entry.dtype}[${entry.shape.join(', ')}] needs ${needed}`);
    }
    if (end > dataSize) {
      throw fail(name, `data_offsets [${begin}, ${end}] run past the data section, which holds ${dataSize} bytes (file truncated?)`);
    }
    tensors.push({ name, dtype: entry.dtype, shape: entry.shape, begin, end });
  }
  checkOverlaps(tensors, (tensor, problem) => fail(tensor, problem));
  return { path, fileSize, dataStart, metadata, tensors };
}

/** Tensors may share one byte range exactly (tied weights); any other overlap is corruption. */
function checkOverlaps(tensors: SafetensorsEntry[], fail: (tensor: string, problem: string) => Error): void {
  const sorted = tensors.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1];
    const cur = sorted[k];
    if (cur.begin === prev.begin && cur.end === prev.end) {
      if (cur.dtype !== prev.dtype || cur.shape.join() !== prev.shape.join()) {
        throw fail(cur.name, `shares bytes with '${prev.name}' but has a different dtype or shape`);
      }
    } else if (cur.begin < prev.end) {
      throw fail(cur.name, `data_offsets [${cur.begin}, ${cur.end}] overlap '${prev.name}' [${prev.begin}, ${prev.end}]`);
    }
  }
}

/** Serialises a header (length prefix + JSON padded with spaces to a multiple of 8, as the reference writer does). */
export function encodeSafetensorsHeader(metadata: Record<string, string>, tensors: readonly SafetensorsEntry[]): Buffer {
  // null prototype: a tensor named '__proto__' must become a key of the JSON, as any other name
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  for (const t of tensors) header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [t.begin, t.end] };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json]);
}
