/**
 * Node only: the source of a worker thread that runs a TypeScript entry like the rest of the server. Node 20 resolves
 * a worker's entry before any `--import` loader applies to it, so a small script registers tsx in the thread first,
 * then imports the real entry. Start it with `new Worker(threadBootstrap(url), { eval: true })`.
 */
export function threadBootstrap(entry: URL): string {
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return `import(${tsx}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
}
