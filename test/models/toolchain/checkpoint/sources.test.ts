/** Release URL table and finding checkpoints in a local directory. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findLocalCheckpoint, OFFICIAL_CHECKPOINT_URLS } from '../../../../models/toolchain/checkpoint/sources.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/checkpoints');

describe('checkpoint sources', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'evit-sources-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the six official release assets, frozen', () => {
    expect(Object.keys(OFFICIAL_CHECKPOINT_URLS)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(OFFICIAL_CHECKPOINT_URLS.m3).toBe(
      'https://github.com/xinyuliu-jeffrey/EfficientViT_Model_Zoo/releases/download/v1.0/efficientvit_m3.pth',
    );
    expect(Object.isFrozen(OFFICIAL_CHECKPOINT_URLS)).toBe(true);
  });

  it('finds the fixtures by variant, preferring .pth', () => {
    expect(findLocalCheckpoint(fixtures, 'm0')).toBe(path.join(fixtures, 'efficientvit_m0.synthetic.pth'));
    expect(findLocalCheckpoint(fixtures, 'm1')).toBe(path.join(fixtures, 'efficientvit_m1.synthetic.pth'));
    expect(findLocalCheckpoint(fixtures, 'm2')).toBeUndefined();
  });

  it('ranks exact .pth over decorated .pth over safetensors, and never mistakes m1 for m10', () => {
    for (const name of [
      'efficientvit_m1.safetensors',
      'efficientvit_m10.pth',
      'efficientvit_m1.finetuned.pth',
      'efficientvit_m2.r224_in1k.safetensors',
    ]) {
      writeFileSync(path.join(dir, name), '');
    }
    mkdirSync(path.join(dir, 'efficientvit_m3.pth')); // a directory is not a checkpoint
    expect(findLocalCheckpoint(dir, 'm1')).toBe(path.join(dir, 'efficientvit_m1.finetuned.pth'));
    writeFileSync(path.join(dir, 'efficientvit_m1.pth'), '');
    expect(findLocalCheckpoint(dir, 'm1')).toBe(path.join(dir, 'efficientvit_m1.pth'));
    expect(findLocalCheckpoint(dir, 'm2')).toBe(path.join(dir, 'efficientvit_m2.r224_in1k.safetensors'));
    expect(findLocalCheckpoint(dir, 'm3')).toBeUndefined();
    expect(findLocalCheckpoint(path.join(dir, 'does-not-exist'), 'm0')).toBeUndefined();
  });
});
