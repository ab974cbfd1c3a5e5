/**
 * What a Worker's isolate holds, read from outside through workerd's inspector (Chrome DevTools Protocol), for the
 * 128 MB per-isolate limit: the JavaScript heap, ArrayBuffer backing stores (request bodies, decoded pixels, tensors)
 * and WebAssembly memories (onnxruntime's heap, the decoders'). workerd's process RSS also holds the runtime itself and
 * V8's machine code for the wasm modules, which are not the isolate's allocations.
 *
 * Start Miniflare with `inspectorPort`, then `IsolateMemoryProbe.connect(port, workerName)`.
 */
import WebSocket from 'ws';

export interface IsolateMemorySample {
  /** V8 heap in use, before any collection: garbage the last requests left is still counted. */
  jsHeapBytes: number;
  /** ArrayBuffer backing stores outside wasm, before any collection. */
  arrayBufferBytes: number;
  /** Size of every live WebAssembly.Memory, largest first (a wasm memory never shrinks: its peak). */
  wasmMemoryBytes: number[];
  /** jsHeapBytes + arrayBufferBytes + all wasm memories. */
  totalBytes: number;
  /** The same after a full garbage collection: what the isolate retains between requests. */
  retainedBytes: number;
}

interface HeapUsage {
  usedSize: number;
  totalSize: number;
  backingStorageSize?: number;
}

interface ProtocolReply {
  id?: number;
  method?: string;
  params?: { context?: { id: number } };
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** The remote objects a sample creates, released together at its end. */
const OBJECT_GROUP = 'isolate-memory-probe';
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export class IsolateMemoryProbe {
  private nextId = 0;
  private readonly pending = new Map<number, (reply: ProtocolReply) => void>();
  private contextId: number | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const reply = JSON.parse(String(data)) as ProtocolReply;
      if (reply.method === 'Runtime.executionContextCreated') this.contextId = reply.params?.context?.id;
      if (reply.id !== undefined) {
        this.pending.get(reply.id)?.(reply);
        this.pending.delete(reply.id);
      }
    });
  }

  /** Attaches to the worker named `workerName` (Miniflare lists it as `core:user:<name>`). */
  static async connect(inspectorPort: number, workerName: string): Promise<IsolateMemoryProbe> {
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as {
      id?: string;
      webSocketDebuggerUrl: string;
    }[];
    const target = targets.find((t) => t.webSocketDebuggerUrl.endsWith(`/core:user:${workerName}`));
    if (!target)
      throw new Error(
        `no inspector target for worker ${workerName} (found ${targets.map((t) => t.webSocketDebuggerUrl).join(', ')})`,
      );
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const probe = new IsolateMemoryProbe(socket);
    await probe.call('Runtime.enable'); // announces the worker's execution context, needed to evaluate in it
    if (probe.contextId === undefined) throw new Error(`worker ${workerName} reported no execution context`);
    return probe;
  }

  private call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) =>
        reply.error ? reject(new Error(`${method}: ${reply.error.message}`)) : resolve(reply.result ?? {}),
      );
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  private async heapUsage(): Promise<HeapUsage> {
    return (await this.call('Runtime.getHeapUsage')) as unknown as HeapUsage;
  }

  /**
   * One sample. Reads the heap first (so the last requests' garbage counts), then lists the wasm memories with
   * Runtime.queryObjects, which runs a full collection, and reads the heap again for the retained size. The
   * collection perturbs timing: sample outside timed work.
   */
  async sample(): Promise<IsolateMemorySample> {
    const before = await this.heapUsage();
    const prototype = (await this.call('Runtime.evaluate', {
      expression: 'WebAssembly.Memory.prototype',
      contextId: this.contextId,
      objectGroup: OBJECT_GROUP,
    })) as {
      result: { objectId: string };
    };
    const memories = (await this.call('Runtime.queryObjects', {
      prototypeObjectId: prototype.result.objectId,
      objectGroup: OBJECT_GROUP,
    })) as { objects: { objectId: string } };
    const sizes = (await this.call('Runtime.callFunctionOn', {
      objectId: memories.objects.objectId,
      functionDeclaration: 'function () { return this.map((memory) => memory.buffer.byteLength); }',
      returnByValue: true,
    })) as { result: { value: number[] } };
    await this.call('Runtime.releaseObjectGroup', { objectGroup: OBJECT_GROUP }); // so the probe keeps nothing alive
    const after = await this.heapUsage();
    const wasmMemoryBytes = [...sizes.result.value].sort((a, b) => b - a);
    const jsHeapBytes = before.usedSize;
    const arrayBufferBytes = before.backingStorageSize ?? 0;
    return {
      jsHeapBytes,
      arrayBufferBytes,
      wasmMemoryBytes,
      totalBytes: jsHeapBytes + arrayBufferBytes + sum(wasmMemoryBytes),
      retainedBytes: after.usedSize + (after.backingStorageSize ?? 0) + sum(wasmMemoryBytes),
    };
  }

  close(): void {
    this.socket.close();
  }
}
