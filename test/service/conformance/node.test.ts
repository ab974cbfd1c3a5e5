/** The shared conformance cases against the Node server, decoding on the HTTP thread (`--decode-threads 0`). */
import { defineNodeConformance } from './node-target.js';

defineNodeConformance({ decodeThreads: 0 });
