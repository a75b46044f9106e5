import { invalid, type ByteReader, type ByteSink } from '../byte-io';
import type { ContainerWalker } from './container';

const EXTENSION = 0x21;
const IMAGE = 0x2c;
const TRAILER = 0x3b;
const GRAPHIC_CONTROL = 0xf9;
const APPLICATION = 0xff;

/**
 * Application extensions that change how the image plays or looks: the loop count (NETSCAPE2.0 and its
 * twin ANIMEXTS1.0) and an ICC profile. XMP ("XMP DataXMP"), IPTC and other application blocks are dropped,
 * as are comments and plain-text extensions.
 */
const KEPT_APPLICATIONS = new Set(['NETSCAPE2.0', 'ANIMEXTS1.0', 'ICCRGBG1012']);

/** Copies (or skips, when sink is null) a chain of data sub-blocks up to and including its terminator. */
async function subBlocks(input: ByteReader, sink: ByteSink | null): Promise<void> {
  for (;;) {
    const size = await input.bytes(1, 'GIF');
    if (sink) await sink.write(size);
    if (size[0] === 0) return;
    await input.forward(size[0], sink, undefined, 'GIF');
  }
}

function colourTableBytes(packed: number): number {
  return packed & 0x80 ? 3 * 2 ** ((packed & 0x07) + 1) : 0;
}

export const walkGif: ContainerWalker = async (input, output, { checkDimensions }) => {
  const header = await input.bytes(13, 'GIF');
  if (!/^GIF8[79]a$/.test(header.toString('latin1', 0, 6))) invalid('not a GIF');
  const width = header.readUInt16LE(6);
  const height = header.readUInt16LE(8);
  if (!width || !height) invalid('the GIF has no size');
  checkDimensions(width, height);
  await output.write(header);
  await input.forward(colourTableBytes(header[10]), output, undefined, 'GIF');

  let frames = 0;
  for (;;) {
    const introducer = await input.bytes(1, 'GIF');
    if (introducer[0] === TRAILER) {
      if (frames === 0) invalid('the GIF has no image');
      if (!(await input.atEnd())) invalid('the GIF has bytes after its end');
      await output.write(introducer);
      return { width, height, orientation: 1 };
    }
    if (introducer[0] === IMAGE) {
      const descriptor = await input.bytes(9, 'GIF');
      const frameWidth = descriptor.readUInt16LE(4);
      const frameHeight = descriptor.readUInt16LE(6);
      // A frame may be larger than the screen it is drawn on; it is decoded at its own size.
      if (frameWidth && frameHeight) checkDimensions(frameWidth, frameHeight);
      const lzwMinimum = await input.bytes(1, 'GIF');
      await output.write(introducer);
      await output.write(descriptor);
      await input.forward(colourTableBytes(descriptor[8]), output, undefined, 'GIF');
      if (lzwMinimum[0] < 2 || lzwMinimum[0] > 11) invalid('the GIF has a malformed frame');
      await output.write(lzwMinimum);
      await subBlocks(input, output);
      frames += 1;
      continue;
    }
    if (introducer[0] !== EXTENSION) invalid('the GIF has bytes where a block should be');

    const label = await input.bytes(1, 'GIF');
    let keep = label[0] === GRAPHIC_CONTROL;
    if (label[0] === APPLICATION) {
      // The first sub-block names the application: 8 bytes of identifier, 3 of authentication code.
      const size = await input.bytes(1, 'GIF');
      const id = await input.bytes(size[0], 'GIF');
      keep = size[0] === 11 && KEPT_APPLICATIONS.has(id.toString('latin1'));
      if (keep) await output.write(Buffer.concat([introducer, label, size, id]));
      if (size[0] === 0) continue; // the identifier block was the terminator
      await subBlocks(input, keep ? output : null);
      continue;
    }
    if (keep) {
      await output.write(introducer);
      await output.write(label);
    }
    await subBlocks(input, keep ? output : null);
  }
};
