import sharp from 'sharp';

/** Photo-like pixels with sensor-like noise, from a fixed seed: the same file on every run. */
function noisyPhoto(width: number, height: number, noise: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  let seed = 12345;
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const n = ((seed >>> 16) % (2 * noise + 1)) - noise;
      const i = (y * width + x) * 3;
      px[i] = clamp((x * 255) / width + n);
      px[i + 1] = clamp((y * 255) / height + n);
      px[i + 2] = clamp(((x ^ y) & 255) + n);
    }
  return px;
}

/** What a phone camera writes besides the pixels: EXIF with GPS and serial, an ICC profile, XMP. */
function cameraJpeg(width: number, height: number, noise: number, quality: number): Promise<Buffer> {
  return sharp(noisyPhoto(width, height, noise), { raw: { width, height, channels: 3 } })
    .withExifMerge({
      IFD0: { Make: 'BenchCam', Model: 'BC-1', Software: 'pushpic bench' },
      IFD2: { BodySerialNumber: 'BENCH-0001', DateTimeOriginal: '2026:11:21 10:00:00' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '48/1 51/1 2928/100',
        GPSLongitudeRef: 'E',
        GPSLongitude: '2/1 17/1 4020/100',
      },
    })
    .withIccProfile('p3')
    .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>')
    .jpeg({ quality })
    .toBuffer();
}

/** The bench's photo: a 1024 × 768 camera JPEG of about 210 KB. */
export function benchPhoto(): Promise<Buffer> {
  return cameraJpeg(1024, 768, 16, 85);
}

/** A 12-megapixel camera JPEG just under `maxBytes` (10 MB for the memory run). */
export async function largePhoto(maxBytes: number): Promise<Buffer> {
  for (let quality = 97; quality > 50; quality -= 1) {
    const jpeg = await cameraJpeg(4000, 3000, 100, quality);
    if (jpeg.length <= maxBytes) return jpeg;
  }
  throw new Error('cannot make a photo that small');
}
