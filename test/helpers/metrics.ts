/** Reading a server's GET /metrics (Prometheus text) in tests. */

/** Sum of a Prometheus sample over its label sets that contain `labels`, in exposition text; 0 when absent. */
export function sample(metrics: string, name: string, labels = ''): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    total += Number(line.split(' ').pop());
  }
  return total;
}

/** `sample` of the server at `url`'s /metrics now. */
export async function metric(url: string, name: string, labels = ''): Promise<number> {
  return sample(await (await fetch(`${url}/metrics`)).text(), name, labels);
}

/** Poll /metrics every 5 ms until the queue holds `n` items; false if it does not within 200 polls. */
export async function waitQueued(url: string, n: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if ((await metric(url, 'warm_serve_queue_items')) === n) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}
