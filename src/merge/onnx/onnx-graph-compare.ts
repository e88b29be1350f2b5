/**
 * Checks that M ONNX inputs are the same network: identical graphs once initializer values are
 * set aside (nodes, operator types, attributes, graph inputs/outputs, opset imports, functions),
 * and none of them quantized. Node names and doc strings are ignored: exporters fill them with
 * source paths that vary between runs without changing the computation.
 */
import { errors } from '../../errors.js';
import type { OnnxModel } from './onnx-model.js';
import { int64ToNumber, onnxTypes, type NodeProto, type ValueInfoProto } from './onnx-schema.js';
import { quantizedOpProblem } from '../tensor/quantization.js';

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

function nodeLabel(node: NodeProto, k: number): string {
  return `node #${k}${node.name ? ` '${node.name}'` : ''} (${node.domain ? `${node.domain}.` : ''}${node.op_type})`;
}

/** Refuses quantized graphs and sparse initializers in any input. */
export function checkOnnxSupported(model: OnnxModel): void {
  const graph = model.model.graph!;
  graph.node.forEach((node, k) => {
    const problem = quantizedOpProblem(node.op_type);
    if (problem) throw errors.merge(model.label, undefined, `${nodeLabel(node, k)}: ${problem}`);
  });
  if (graph.sparse_initializer.length > 0) {
    throw errors.merge(model.label, undefined, `${model.path} has sparse initializers, which the merger does not support`);
  }
}

/** Throws a merge error naming the input and the first graph element that differs from the first input. */
export function compareOnnxGraphs(models: readonly OnnxModel[]): void {
  const t = onnxTypes();
  const [first, ...rest] = models;
  const opsets = (m: OnnxModel) =>
    m.model.opset_import
      .map((o) => `${o.domain || 'ai.onnx'}:${int64ToNumber(o.version, (problem) => errors.merge(m.label, undefined, `${m.path}: opset version ${problem}`))}`)
      .sort()
      .join(', ');
  const valueBytes = (v: ValueInfoProto) => t.ValueInfoProto.encode({ ...v, doc_string: undefined }).finish();
  const nodeBytes = (n: NodeProto) => t.NodeProto.encode({ ...n, name: undefined, doc_string: undefined }).finish();
  const g0 = first.model.graph!;
  for (const other of rest) {
    const fail = (problem: string) => errors.merge(other.label, undefined, `ONNX graph differs from the first input's (${first.label}): ${problem}`);
    if (opsets(other) !== opsets(first)) throw fail(`opset imports [${opsets(other)}] vs [${opsets(first)}]`);
    const g = other.model.graph!;
    for (const [kind, a, b] of [['input', g.input, g0.input], ['output', g.output, g0.output]] as const) {
      if (a.map((v) => v.name).join() !== b.map((v) => v.name).join()) {
        throw fail(`graph ${kind}s [${a.map((v) => v.name).join(', ')}] vs [${b.map((v) => v.name).join(', ')}]`);
      }
      a.forEach((v, k) => {
        if (!sameBytes(valueBytes(v), valueBytes(b[k]))) throw fail(`graph ${kind} '${v.name}' has a different type or shape`);
      });
    }
    if (g.node.length !== g0.node.length) throw fail(`${g.node.length} nodes vs ${g0.node.length}`);
    g.node.forEach((node, k) => {
      const ref = g0.node[k];
      const where = nodeLabel(node, k);
      if (node.op_type !== ref.op_type || (node.domain ?? '') !== (ref.domain ?? '')) {
        throw fail(`${where}: operator ${node.op_type} vs ${ref.op_type}`);
      }
      if (node.input.join() !== ref.input.join()) throw fail(`${where}: inputs [${node.input.join(', ')}] vs [${ref.input.join(', ')}]`);
      if (node.output.join() !== ref.output.join()) throw fail(`${where}: outputs [${node.output.join(', ')}] vs [${ref.output.join(', ')}]`);
      if (!sameBytes(nodeBytes(node), nodeBytes(ref))) {
        const names = (n: NodeProto) => n.attribute.map((a) => a.name).join(', ');
        throw fail(`${where}: attributes differ ([${names(node)}] vs [${names(ref)}], or their values)`);
      }
    });
    const fns = (m: OnnxModel) => m.model.functions.map((f) => Buffer.from(t.FunctionProto.encode(f as object).finish()).toString('base64'));
    if (fns(other).join() !== fns(first).join()) throw fail('model-local functions differ');
  }
}
