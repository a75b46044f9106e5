import sharp from 'sharp';

const cache = new Map<string, Buffer>();

async function cached(name: string, make: () => Promise<Buffer>): Promise<Buffer> {
  if (!cache.has(name)) cache.set(name, await make());
  return cache.get(name)!;
}

/** A small photo-like image (a gradient with noise) in the given format. */
export function makeImage(format: 'jpeg' | 'png' | 'webp' | 'gif', width = 64, height = 48): Promise<Buffer> {
  return cached(`${format}-${width}x${height}`, () => {
    const pixels = Buffer.alloc(width * height * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + ((i / 3) % width) * 3) & 0xff;
    return sharp(pixels, { raw: { width, height, channels: 3 } })
      .toFormat(format)
      .toBuffer();
  });
}
