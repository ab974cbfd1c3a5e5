import { expect } from 'vitest';
import { CheckpointError } from '../../models/state-dict.js';

/** The CheckpointError code an action throws ('accepted' when it throws nothing); any other error fails the test. */
export function checkpointErrorCode(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return (error as CheckpointError).code;
  }
  return 'accepted';
}
