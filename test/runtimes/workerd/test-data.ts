/** The values the workerd global setup provides to the tests (vitest provide/inject). */
import type { TinyModelInfo } from '../../service/conformance/test-data.js';
import type { TrainedHeadInfo } from '../../helpers/trained-head.js';

declare module 'vitest' {
  interface ProvidedContext {
    /** Base URL of the image origin (test/helpers/image-origin.ts) the setup started. */
    imageOrigin: string;
    tinyModels: TinyModelInfo[];
    /** Per golden variant: undefined when its model was built, else why it could not be. */
    goldenBuildErrors: Record<string, string | undefined>;
    referenceEmbeddings: Record<'m0' | 'm1', number[][]>;
    /** The head trained on fashion-mnist/train and the trainer's predictions for fashion-mnist/test. */
    trainedHead: TrainedHeadInfo;
  }
}
