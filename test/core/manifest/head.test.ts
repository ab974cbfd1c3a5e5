/** The trained-head contract: the manifest's `heads` and the head file are checked before the service trusts them. */
import { describe, expect, it } from 'vitest';
import { checkHeadFile, checkLabels, checkManifest } from '../../../worker/core/manifest/check.js';
import { HEAD_FORMAT, type HeadFile, labelProblem, type ManifestHead } from '../../../worker/core/manifest/head.js';
import { testManifestEntry } from '../../helpers/manifest-entry.js';

const base = testManifestEntry({
  name: 'm0',
  id: 'efficientvit_m0.int8',
  file: 'm0.onnx',
  bytes: 10,
  sha256: 'a'.repeat(64),
  embedding: { name: 'embedding', shape: ['N', 4], dtype: 'float32' },
});
const head: ManifestHead = {
  name: 'shoes',
  base: 'm0',
  file: 'shoes.head.json',
  bytes: 100,
  sha256: 'b'.repeat(64),
  labels: 'shoes',
  classes: 2,
  dims: 4,
};
const manifest = (heads: unknown[]) => ({ version: 1, generated: '', models: [base], heads });

describe('manifest heads', () => {
  it('accepts a head on a model of the manifest', () => {
    expect(checkManifest(manifest([head])).heads).toEqual([head]);
    expect(checkManifest({ version: 1, generated: '', models: [base] }).heads).toBeUndefined();
  });

  it('refuses a head whose base is missing, whose dims differ, or whose name is a model', () => {
    expect(() => checkManifest(manifest([{ ...head, base: 'm1' }]))).toThrow(/base "m1" is not a model/);
    expect(() => checkManifest(manifest([{ ...head, dims: 5 }]))).toThrow(/dims must equal/);
    expect(() => checkManifest(manifest([{ ...head, name: 'm0' }]))).toThrow(/names model m0 twice/);
    expect(() => checkManifest(manifest([{ ...head, classes: 1 }]))).toThrow(/classes must be/);
    expect(() => checkManifest(manifest([{ ...head, file: '../x' }]))).toThrow(/plain relative path/);
  });
});

describe('head file', () => {
  const file: HeadFile = {
    format: HEAD_FORMAT,
    name: 'shoes',
    base: 'm0',
    dims: 4,
    classes: 2,
    labels: ['boot', 'sandal'],
    weights: [1, 2, 3, 4, 5, 6, 7, 8],
    bias: [0, 1],
    temperature: 1.5,
  };
  it('accepts a consistent file and refuses each inconsistency', () => {
    expect(checkHeadFile(file, head)).toEqual(file);
    expect(() => checkHeadFile({ ...file, format: 'x' }, head)).toThrow(/format/);
    expect(() => checkHeadFile({ ...file, weights: [1] }, head)).toThrow(/weights must be 2×4/);
    expect(() => checkHeadFile({ ...file, weights: [...file.weights.slice(1), null] }, head)).toThrow(/weights/);
    expect(() => checkHeadFile({ ...file, bias: [0, Number.NaN] }, head)).toThrow(/bias/);
    expect(() => checkHeadFile({ ...file, temperature: 0 }, head)).toThrow(/temperature/);
    expect(() => checkHeadFile({ ...file, labels: ['a', 'a'] }, head)).toThrow(/distinct/);
    expect(() => checkHeadFile({ ...file, base: 'm1' }, head)).toThrow(/base/);
  });

  it('labels: no synset needed, bad names named', () => {
    expect(checkLabels([{ label: 'boot' }, { label: 'sandal' }], 2, 'shoes')).toHaveLength(2);
    expect(() => checkLabels([{ synset: 1, label: 'x' }], 1, 'x')).toThrow(/synset/);
    expect(labelProblem('boot')).toBeUndefined();
    expect(labelProblem('')).toBe('is empty');
    expect(labelProblem('a\uFFFDb')).toBe('is not valid UTF-8');
    expect(labelProblem('é'.repeat(51))).toMatch(/longer than 100 bytes/);
    expect(labelProblem('a\nb')).toMatch(/control/);
  });
});
