/**
 * A small, bounds-checked zip central-directory reader for torch.save archives.
 *
 * Why not fflate's unzipSync: it copies every entry and does not check header offsets (an offset past the end of
 * the file yields a silently empty entry). Here every offset is checked, stored entries come back as zero-copy
 * views (torch writes stored, 64-byte aligned entries), and only deflated entries — which torch never writes, but a
 * re-zipped file may hold — are inflated, by fflate's streaming Inflate, which lets us stop as soon as an entry
 * produces more than it declared. Every entry read is checked against its CRC-32.
 */
import { crc32 } from 'node:zlib';
import { Inflate } from 'fflate';
import { CheckpointError } from '../../state-dict.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  dataOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** Deflate cannot expand data by more than ~1032×; a larger claimed size is a lie meant to allocate. */
const MAX_DEFLATE_RATIO = 1032;
/** Compressed bytes per Inflate push, at most: one push may inflate to ~1032× its size before we can look. */
const MAX_PUSH = 16 * 1024;
const MIN_PUSH = 1024;

function corrupt(message: string): CheckpointError {
  return new CheckpointError('corrupt-archive', message);
}

/** What reading cost beyond the file itself, for callers (tests, benchmarks) that bound it. */
export interface ReadWork {
  /** Bytes produced by inflating deflated entries, refused ones included. */
  inflatedBytes: number;
}

export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;

  constructor(
    private readonly bytes: Uint8Array,
    readonly work: ReadWork = { inflatedBytes: 0 },
  ) {
    this.entries = readCentralDirectory(bytes);
  }

  /**
   * The entry's bytes, checked against its CRC-32; a view into the archive for stored entries. An entry that
   * declares more than `maxBytes`, or inflates to more than it declares, is refused before it costs more.
   */
  read(entry: ZipEntry, maxBytes = Number.POSITIVE_INFINITY): Uint8Array {
    if (entry.size > maxBytes) {
      throw new CheckpointError(
        'oversized-entry',
        `zip entry ${entry.name} declares ${entry.size} bytes; at most ${maxBytes} can be used`,
      );
    }
    const raw = this.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
    const data = entry.method === 0 ? raw : this.inflate(entry, raw);
    if (crc32(data) !== entry.crc32) {
      throw new CheckpointError(
        'checksum-mismatch',
        `zip entry ${entry.name} does not match its CRC-32: the file is damaged`,
      );
    }
    return data;
  }

  private inflate(entry: ZipEntry, raw: Uint8Array): Uint8Array {
    const out = new Uint8Array(entry.size);
    let written = 0;
    const inflater = new Inflate((chunk) => {
      this.work.inflatedBytes += chunk.length;
      if (written + chunk.length > out.length) {
        throw new CheckpointError(
          'oversized-entry',
          `zip entry ${entry.name} inflates to more than the ${entry.size} bytes it declares`,
        );
      }
      out.set(chunk, written);
      written += chunk.length;
    });
    try {
      for (let at = 0; at < raw.length; ) {
        // Push less as the output nears its declared end, so a lying entry is caught within ~1 MiB of it.
        const push = Math.min(MAX_PUSH, Math.max(MIN_PUSH, Math.ceil((out.length - written) / MAX_DEFLATE_RATIO)));
        const end = Math.min(raw.length, at + push);
        inflater.push(raw.subarray(at, end), end === raw.length);
        at = end;
      }
    } catch (error) {
      if (error instanceof CheckpointError) throw error;
      throw corrupt(`zip entry ${entry.name} does not inflate: ${(error as Error).message}`);
    }
    if (written !== out.length)
      throw corrupt(`zip entry ${entry.name} inflates to ${written} bytes, not the ${entry.size} it declares`);
    return out;
  }
}

function readCentralDirectory(bytes: Uint8Array): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => {
    const value = view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('zip64 field too large');
    return Number(value);
  };

  const eocd = findEndOfCentralDirectory(bytes, view);
  let count = u16(eocd + 10);
  let directorySize = u32(eocd + 12);
  let directoryOffset = u32(eocd + 16);
  let directoryEnd = eocd;

  const locator = eocd - 20;
  if (locator >= 0 && u32(locator) === ZIP64_LOCATOR_SIGNATURE) {
    const zip64 = u64(locator + 8);
    if (zip64 + 56 > locator || u32(zip64) !== ZIP64_EOCD_SIGNATURE)
      throw corrupt('bad zip64 end-of-central-directory record');
    count = u64(zip64 + 32);
    directorySize = u64(zip64 + 40);
    directoryOffset = u64(zip64 + 48);
    directoryEnd = zip64;
  }
  if (directoryOffset + directorySize > directoryEnd) {
    throw new CheckpointError(
      'truncated',
      'zip central directory runs past its end record: the file is cut or corrupt',
    );
  }
  // Each record is at least 46 bytes, so a lying count cannot make us loop beyond the directory's size.
  if (count * 46 > directorySize) throw corrupt(`zip claims ${count} entries in a ${directorySize}-byte directory`);

  const entries = new Map<string, ZipEntry>();
  let at = directoryOffset;
  const end = directoryOffset + directorySize;
  const names = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  for (let i = 0; i < count; i++) {
    if (at + 46 > end || u32(at) !== CENTRAL_SIGNATURE) throw corrupt(`zip central directory record ${i} is malformed`);
    const flags = u16(at + 8);
    const method = u16(at + 10);
    let compressedSize = u32(at + 20);
    let size = u32(at + 24);
    const checksum = u32(at + 16);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    let localOffset = u32(at + 42);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > end) throw corrupt(`zip central directory record ${i} runs past the directory`);
    const name = names.decode(bytes.subarray(at + 46, at + 46 + nameLength));

    // Zip64 extra field: the 64-bit values appear, in this order, only for fields saturated at 0xFFFFFFFF.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = u16(extra);
      const length = u16(extra + 2);
      if (extra + 4 + length > extraEnd) throw corrupt(`zip entry ${name} has a malformed extra field`);
      if (id === 0x0001) {
        let field = extra + 4;
        const take = () => {
          if (field + 8 > extra + 4 + length) throw corrupt(`zip entry ${name} has a short zip64 field`);
          const value = u64(field);
          field += 8;
          return value;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      extra += 4 + length;
    }

    if (flags & 1) throw corrupt(`zip entry ${name} is encrypted`);
    if (method !== 0 && method !== 8) throw corrupt(`zip entry ${name} uses unsupported compression method ${method}`);
    if (method === 0 && compressedSize !== size) throw corrupt(`stored zip entry ${name} has mismatched sizes`);
    if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw corrupt(`zip entry ${name} claims an impossible ${size}-byte expansion`);
    }
    if (localOffset + 30 > directoryOffset || u32(localOffset) !== LOCAL_SIGNATURE) {
      throw corrupt(`zip entry ${name} points at a missing local header`);
    }
    const dataOffset = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
    if (dataOffset + compressedSize > directoryOffset) {
      throw new CheckpointError('truncated', `zip entry ${name} runs past the end of its data`);
    }
    if (entries.has(name)) throw corrupt(`zip holds ${name} twice`);
    entries.set(name, { name, method, compressedSize, size, crc32: checksum, dataOffset });
    at = next;
  }
  return entries;
}

function findEndOfCentralDirectory(bytes: Uint8Array, view: DataView): number {
  const lowest = Math.max(0, bytes.byteLength - EOCD_SIZE - MAX_COMMENT);
  for (let at = bytes.byteLength - EOCD_SIZE; at >= lowest; at--) {
    if (
      view.getUint32(at, true) === EOCD_SIGNATURE &&
      at + EOCD_SIZE + view.getUint16(at + 20, true) === bytes.byteLength
    ) {
      return at;
    }
  }
  // Zips are written front to back with the directory last, so a missing end record almost always means a cut file.
  throw new CheckpointError('truncated', 'no zip end-of-central-directory record: the file is cut short or not a zip');
}
