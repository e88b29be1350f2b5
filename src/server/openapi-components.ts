/**
 * fastify-type-provider-zod lists every registered schema twice in the OpenAPI components (an
 * input and an output variant); keep only the ones the document references, so the published
 * spec shows each shape once.
 */

function collectRefs(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) node.forEach((n) => collectRefs(n, into));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') into.add(value.split('/').pop()!);
      else collectRefs(value, into);
    }
  }
}

/** Drop component schemas that nothing references (transitively). */
export function pruneUnusedSchemas<T extends object>(doc: T): T {
  const components = (doc as { components?: { schemas?: Record<string, unknown> } }).components;
  const schemas = components?.schemas;
  if (!schemas) return doc;
  const used = new Set<string>();
  collectRefs({ ...doc, components: { ...components, schemas: {} } }, used);
  // Follow references between components until nothing new turns up.
  for (let size = -1; size !== used.size; ) {
    size = used.size;
    for (const name of [...used]) collectRefs(schemas[name], used);
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...doc, components: { ...components, schemas: kept } };
}
