import { z } from 'zod';
import { bool, int, section } from './values';

/** Where the push preview comes from: see PUSH_PREVIEW. */
export type PreviewMode = 'on' | 'client' | 'off';

export const images = section({
  settings: {
    /** Largest image accepted, in pixels (width × height), read from the header before any decoding. */
    MAX_IMAGE_PIXELS: int(1).default(40_000_000),
    /** Remove EXIF, XMP, IPTC, comments and text chunks from stored photos, losslessly. */
    STRIP_METADATA: bool.default(true),
    /**
     * A blurhash of the photo in the push payload and the pending list: on (the sender's, else decoded
     * here), client (only the sender's; nothing is ever decoded) or off.
     */
    PUSH_PREVIEW: z
      .enum(['on', 'client', 'off', 'true', 'false', '1', '0'])
      .transform((v): PreviewMode =>
        v === 'client' ? 'client' : ['on', 'true', '1'].includes(v) ? 'on' : 'off',
      )
      .default('on'),
    /** Previews decoded by sharp at once; further photos wait their turn (checks and stripping stream). */
    IMAGE_CONCURRENCY: int(1).max(64).default(2),
  },
  build: (s) => ({
    images: {
      maxPixels: s.MAX_IMAGE_PIXELS,
      stripMetadata: s.STRIP_METADATA,
      preview: s.PUSH_PREVIEW,
      concurrency: s.IMAGE_CONCURRENCY,
    },
  }),
});
