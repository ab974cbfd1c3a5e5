import { expect, it } from 'vitest';
it('node runs', () => { expect(1 + 1).toBe(2); });
