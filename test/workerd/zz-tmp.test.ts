import { it } from 'vitest';
import { grayPng } from '../helpers/hostile-png.js';
import { appWith } from './app-with.js';
it('t', async () => {
  const png = grayPng(1500, 1500, 1 << 16, 0);
  const app = appWith({ maxImagePixels: 16e6 });
  for (let i = 0; i < 3; i++) {
    const s = Date.now();
    const r = await app(new Request('http://edge.test/v1/classify', { method: 'POST', body: png, headers: { 'content-type': 'image/png' } }));
    const j = await r.json() as any;
    console.log('status', r.status, Date.now() - s, 'ms', JSON.stringify(j.timing ?? j.code));
  }
});
