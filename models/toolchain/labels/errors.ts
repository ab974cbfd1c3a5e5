/** A training run's refusal: the input (the folder, the name, the build) is the cause; the CLI prints one line. */
import { CodedError } from '../../../worker/core/errors.js';

export type TrainErrorCode =
  | 'no-images'
  | 'too-few-labels'
  | 'too-many-labels'
  | 'too-few-images'
  | 'bad-label-name'
  | 'bad-images'
  | 'bad-name'
  | 'name-taken'
  | 'base-not-built'
  | 'unknown-test-label';

export class TrainError extends CodedError<TrainErrorCode> {}
