import { invalid, type ByteReader } from '../byte-io';
import type { ContainerWalker } from './container';

/**
 * AVIF (HEIF with AV1): boxes in ISO BMFF. Metadata are items of type "Exif" and "mime" (XMP) whose bytes
 * iloc locates by absolute file offset. Removing them would move the image data and every offset that
 * points at it, so their bytes are overwritten in place instead: the Exif item becomes an empty EXIF
 * block, the XMP item blanks. The file keeps its size and layout; the pixels are not touched. Orientation
 * lives in the irot and imir properties, which are kept.
 */

const META_LIMIT = 1024 * 1024;
const FTYP_LIMIT = 4096;

interface Box {
  type: string;
  /** Offset of the box's content (after its header) within the buffer it was found in. */
  start: number;
  end: number;
}

/** The boxes directly inside buf[from, to). */
function children(buf: Buffer, from: number, to: number): Box[] {
  const boxes: Box[] = [];
  let at = from;
  while (at < to) {
    if (at + 8 > to) invalid('the AVIF has a malformed box');
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (at + 16 > to) invalid('the AVIF has a malformed box');
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) size = to - at;
    if (size < header || at + size > to) invalid('the AVIF has a box larger than its parent');
    boxes.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return boxes;
}

/** Reads big-endian unsigned integers of 0, 2, 4 or 8 bytes from a buffer, moving along. */
class Cursor {
  constructor(
    private readonly buf: Buffer,
    public at: number,
    private readonly end: number,
  ) {}
  uint(bytes: number): number {
    if (bytes !== 8 && (bytes < 0 || bytes > 4)) invalid('the AVIF has a field of impossible size');
    if (this.at + bytes > this.end) invalid('the AVIF has a truncated box');
    let v = 0;
    if (bytes === 8) v = Number(this.buf.readBigUInt64BE(this.at));
    else if (bytes > 0) v = this.buf.readUIntBE(this.at, bytes);
    this.at += bytes;
    return v;
  }
  string(): string {
    const nul = this.buf.indexOf(0, this.at);
    if (nul === -1 || nul >= this.end) invalid('the AVIF has a malformed item name');
    const s = this.buf.toString('utf8', this.at, nul);
    this.at = nul + 1;
    return s;
  }
}

interface Extent {
  /** Absolute offset in the file. */
  offset: number;
  length: number;
}

interface MetaInfo {
  primary: number;
  itemTypes: Map<number, string>;
  locations: Map<number, Extent[]>;
  /** Width and height of the primary item, turned by its irot. */
  width: number;
  height: number;
  /** Every image size the file declares (ispe), for the pixel limit. */
  sizes: { width: number; height: number }[];
}

/** Parses a meta box held in memory; metaAt is its content's absolute offset in the file. */
function parseMeta(buf: Buffer, metaAt: number): MetaInfo {
  const boxes = children(buf, 4, buf.length); // meta is a full box: 4 bytes of version and flags
  const find = (type: string) => boxes.find((b) => b.type === type);
  const hdlr = find('hdlr');
  if (!hdlr || buf.toString('latin1', hdlr.start + 8, hdlr.start + 12) !== 'pict')
    invalid('the AVIF is not a picture');

  const pitm = find('pitm');
  if (!pitm) invalid('the AVIF has no primary image');
  const primary = new Cursor(buf, pitm.start + 4, pitm.end).uint(buf[pitm.start] === 0 ? 2 : 4);

  const itemTypes = new Map<number, string>();
  const iinf = find('iinf');
  if (iinf) {
    const skip = buf[iinf.start] === 0 ? 2 : 4;
    for (const infe of children(buf, iinf.start + 4 + skip, iinf.end)) {
      if (infe.type !== 'infe' || buf[infe.start] < 2) continue;
      const c = new Cursor(buf, infe.start + 4, infe.end);
      const id = c.uint(buf[infe.start] === 2 ? 2 : 4);
      c.uint(2); // protection index
      itemTypes.set(id, buf.toString('latin1', c.at, c.at + 4));
    }
  }

  const idat = find('idat');
  const locations = new Map<number, Extent[]>();
  const iloc = find('iloc');
  if (iloc) {
    const version = buf[iloc.start];
    const c = new Cursor(buf, iloc.start + 4, iloc.end);
    const sizes = c.uint(2);
    const [offsetSize, lengthSize, baseSize] = [sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15];
    const indexSize = version > 0 ? sizes & 15 : 0;
    const count = c.uint(version < 2 ? 2 : 4);
    for (let i = 0; i < count; i++) {
      const id = c.uint(version < 2 ? 2 : 4);
      const method = version > 0 ? c.uint(2) & 15 : 0;
      const dataReference = c.uint(2);
      const base = c.uint(baseSize);
      const extents: Extent[] = [];
      for (let n = c.uint(2); n > 0; n--) {
        c.uint(indexSize);
        const offset = base + c.uint(offsetSize);
        const length = c.uint(lengthSize);
        if (method === 0 && dataReference === 0) extents.push({ offset, length });
        else if (method === 1 && idat) extents.push({ offset: metaAt + idat.start + offset, length });
        else extents.push({ offset: -1, length }); // elsewhere: only an error for a metadata item
      }
      locations.set(id, extents);
    }
  }

  const sizes: { width: number; height: number }[] = [];
  let width = 0;
  let height = 0;
  const iprp = find('iprp');
  if (iprp) {
    const inner = children(buf, iprp.start, iprp.end);
    const ipco = inner.find((b) => b.type === 'ipco');
    const properties = ipco ? children(buf, ipco.start, ipco.end) : [];
    for (const p of properties) {
      if (p.type !== 'ispe') continue;
      if (p.end - p.start < 12) invalid('the AVIF has a malformed size');
      sizes.push({ width: buf.readUInt32BE(p.start + 4), height: buf.readUInt32BE(p.start + 8) });
    }
    let quarterTurns = 0;
    for (const ipma of inner.filter((b) => b.type === 'ipma')) {
      const version = buf[ipma.start];
      const wide = (buf[ipma.start + 3] & 1) === 1;
      const c = new Cursor(buf, ipma.start + 4, ipma.end);
      for (let n = c.uint(4); n > 0; n--) {
        const id = c.uint(version < 1 ? 2 : 4);
        for (let k = c.uint(1); k > 0; k--) {
          const index = c.uint(wide ? 2 : 1) & (wide ? 0x7fff : 0x7f);
          const property = properties[index - 1];
          if (id !== primary || !property) continue;
          if (property.type === 'ispe' && property.end - property.start >= 12) {
            width = buf.readUInt32BE(property.start + 4);
            height = buf.readUInt32BE(property.start + 8);
          }
          if (property.type === 'irot' && property.end > property.start)
            quarterTurns = buf[property.start] & 3;
        }
      }
    }
    if (quarterTurns % 2 === 1) [width, height] = [height, width];
  }
  if (!width || !height) invalid('the AVIF has no size');
  return { primary, itemTypes, locations, width, height, sizes };
}

/** What overwrites a metadata item: an empty EXIF block (offset 0, TIFF header, no entries) or blanks. */
function neutralBytes(type: string, length: number): Buffer {
  if (type !== 'Exif' || length < 18) return Buffer.alloc(length, type === 'Exif' ? 0 : 0x20);
  const out = Buffer.alloc(length);
  Buffer.from('MM\0*\0\0\0\x08', 'latin1').copy(out, 4);
  return out;
}

async function readBoxHeader(input: ByteReader): Promise<{ type: string; size: number; header: Buffer }> {
  let header = await input.bytes(8, 'AVIF');
  let size = header.readUInt32BE(0);
  if (size === 1) {
    const large = await input.bytes(8, 'AVIF');
    size = Number(large.readBigUInt64BE(0));
    header = Buffer.concat([header, large]);
  }
  return { type: header.toString('latin1', 4, 8), size, header };
}

export const walkAvif: ContainerWalker = async (input, output, { checkDimensions }) => {
  let meta: MetaInfo | null = null;
  for (let index = 0; !(await input.atEnd()); index++) {
    const { type, size, header } = await readBoxHeader(input);
    if (size !== 0 && size < header.length) invalid('the AVIF has a malformed box');
    await output.write(header);
    if (size === 0) {
      // The last box runs to the end of the file.
      while (!(await input.atEnd())) await input.take(input.buffered, output);
      break;
    }
    const contentLength = size - header.length;
    if (index === 0) {
      if (type !== 'ftyp' || contentLength < 8 || contentLength > FTYP_LIMIT) invalid('not an AVIF');
      const ftyp = await input.bytes(contentLength, 'AVIF');
      const brands = [0, ...Array.from({ length: (contentLength - 8) / 4 }, (_, i) => 8 + 4 * i)];
      if (!brands.some((at) => ['avif', 'avis'].includes(ftyp.toString('latin1', at, at + 4))))
        invalid('not an AVIF');
      await output.write(ftyp);
    } else if (type === 'meta') {
      if (meta) invalid('the AVIF has two meta boxes');
      if (contentLength > META_LIMIT) invalid('the AVIF metadata box is too large');
      const metaAt = input.offset;
      const content = await input.bytes(contentLength, 'AVIF');
      meta = parseMeta(content, metaAt);
      for (const s of meta.sizes) checkDimensions(s.width, s.height);
      await output.write(content);
    } else {
      await input.forward(contentLength, output, undefined, 'AVIF');
    }
  }
  if (!meta) invalid('the AVIF has no metadata box');

  const fileSize = input.offset;
  for (const [id, extents] of meta.locations) {
    if (id === meta.primary && extents.some((e) => e.offset >= 0 && e.offset + e.length > fileSize))
      invalid('the AVIF image data lies outside the file');
    const type = meta.itemTypes.get(id);
    if (type !== 'Exif' && type !== 'mime') continue;
    const total = extents.reduce((n, e) => n + e.length, 0);
    const neutral = neutralBytes(type, total);
    let done = 0;
    for (const e of extents) {
      if (e.offset < 0 || e.length === 0 || e.offset + e.length > fileSize)
        invalid('the AVIF metadata cannot be located');
      output.patch(e.offset, neutral.subarray(done, done + e.length));
      done += e.length;
    }
  }
  return { width: meta.width, height: meta.height, orientation: 1 };
};
