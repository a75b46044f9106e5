import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { errors } from '../../errors';
import type { ReceivedUpload } from '../../messages/send-message';
import type { Services } from '../../services';
import type { AppMiddleware } from '../context';

/** Room for the multipart framing and the few text fields around the photo. */
const MULTIPART_OVERHEAD = 64 * 1024;
/** The one file field. */
const FILE_FIELD = 'img_file';
const LIMITS = { files: 1, fields: 8, fieldSize: 1024, fieldNameSize: 64, parts: 10, headerPairs: 20 };
const noop = () => undefined;

/** A multipart body read: its text fields, and the photo in img_file if one came. */
export interface ReadUpload {
  fields: Record<string, string>;
  upload: ReceivedUpload | undefined;
}

/** Resolves once the request's body has been read to its end, or the request is gone. */
function drained(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    req.once('end', resolve).once('close', resolve).once('error', resolve);
    req.resume();
  });
}

/**
 * Reads `multipart/form-data` with one photo in `img_file`, streamed through the media module (which checks
 * and strips it on the way) to a temporary file, and refused as soon as it passes MAX_UPLOAD_BYTES. It works
 * on a bare node:http request: the Koa route (receiveUpload below) and the send lane (../send-lane.ts) share
 * it. busboy parses; the limits, and what each breach is answered, are ours:
 * - a declared Content-Length over the limit: 413 before a byte of the body is read (and the connection
 *   closed, since the body stays unread);
 * - a photo over the limit while it streams in (chunked uploads): 413;
 * - a file in another field, a second file, a repeated, over-long or over-numerous field: 422;
 * - a body that is not well-formed multipart, or that ends early: 400 malformed_multipart.
 * read() throws with nothing left on disk, once the rest of the body has been read (so that the client,
 * still sending, gets the answer rather than a reset); after a read, discard() removes the temporary file
 * unless the photo was moved into the blob store.
 */
export function uploadReader({ tempFiles, config, media }: Pick<Services, 'tempFiles' | 'config' | 'media'>) {
  const maxBytes = config.maxUploadBytes;
  // busboy reports a limit once it is reached; a value exactly at our limit is allowed, so give it one more.
  const limits = {
    ...LIMITS,
    fileSize: maxBytes + 1,
    fieldSize: LIMITS.fieldSize + 1,
    parts: LIMITS.parts + 1,
  };

  return {
    read(req: IncomingMessage): Promise<ReadUpload> {
      if (Number(req.headers['content-length']) > maxBytes + MULTIPART_OVERHEAD) {
        // Refused without reading a byte of the body; the connection cannot be reused after that.
        return Promise.reject(errors.payloadTooLarge(maxBytes, { Connection: 'close' }));
      }
      let parser: busboy.Busboy;
      try {
        parser = busboy({ headers: req.headers, limits });
      } catch {
        return Promise.reject(errors.malformedMultipart()); // no boundary, or not multipart at all
      }
      return new Promise((resolve, reject) => {
        const fields: Record<string, string> = Object.create(null);
        let file: Readable | null = null;
        let written: Promise<ReceivedUpload> | null = null;
        let settled = false;

        /** The first problem ends the read: stop parsing, let the body drain, remove what was written. */
        const fail = (err: unknown) => {
          if (settled) return;
          settled = true;
          req.unpipe(parser);
          parser.removeAllListeners().on('error', noop);
          file?.destroy(); // the write ends (refused) rather than waiting for bytes that will not come
          const removed = written?.then((upload) => fs.promises.rm(upload.tempPath, { force: true }), noop);
          Promise.all([drained(req), removed]).then(() => reject(err));
        };
        const tooLong = (name: string) => fail(errors.invalidRequest(`${name}: too long`));
        const oneFile = (name: string) =>
          fail(errors.invalidRequest(`${name}: send exactly one file, in the field ${FILE_FIELD}`));

        parser.on('field', (name, value, info) => {
          if (info.nameTruncated || info.valueTruncated) return tooLong(name);
          if (name in fields) return fail(errors.invalidRequest(`${name}: send it once`));
          fields[name] = value;
        });
        parser.on('file', (name, stream) => {
          if (name !== FILE_FIELD || written) {
            stream.resume();
            return oneFile(name);
          }
          file = stream;
          const tempPath = tempFiles.newPath();
          stream.once('limit', () => fail(errors.payloadTooLarge(maxBytes)));
          written = media.receive(stream, tempPath).then(
            (image) => ({ tempPath, size: image.receivedBytes, image }),
            async (err: unknown) => {
              await fs.promises.rm(tempPath, { force: true });
              throw err;
            },
          );
          // The disk failed (an error of ours, with its errno code), or the stream did: the body was cut short.
          written.catch((err: NodeJS.ErrnoException) => fail(err.code ? err : errors.malformedMultipart()));
        });
        parser.on('filesLimit', () => oneFile(FILE_FIELD));
        parser.on('fieldsLimit', () => fail(errors.invalidRequest('body: too many fields')));
        parser.on('partsLimit', () => fail(errors.invalidRequest('body: too many fields')));
        parser.on('error', () => fail(errors.malformedMultipart()));
        parser.on('close', () => {
          if (settled) return;
          (written ?? Promise.resolve(undefined)).then((upload) => {
            if (settled) return;
            settled = true; // nothing that happens to the request now touches the file
            resolve({ fields, upload });
          }, noop); // a failed write has called fail already
        });
        // A client that goes away mid-body: busboy would wait for the rest forever.
        req.once('error', () => fail(errors.malformedMultipart()));
        req.once('close', () => {
          if (!req.readableEnded) fail(errors.malformedMultipart());
        });
        req.pipe(parser);
      });
    },

    /** Ends a read: removes its temporary file, unless the photo was moved into the blob store. */
    async discard(upload: ReceivedUpload | undefined): Promise<void> {
      if (upload && !upload.moved) await fs.promises.rm(upload.tempPath, { force: true });
    },
  };
}

export type UploadReader = ReturnType<typeof uploadReader>;

/**
 * The Koa route's multipart step: sets ctx.request.body and ctx.state.upload. The temporary file is removed
 * when the request ends, whatever happened (a service that keeps it moves it away first).
 */
export function receiveUpload(reader: UploadReader): AppMiddleware {
  return async (ctx, next) => {
    if (!ctx.is('multipart/form-data')) throw errors.unsupportedContentType('multipart/form-data');
    const { fields, upload } = await reader.read(ctx.req);
    ctx.request.body = fields;
    ctx.state.upload = upload;
    try {
      await next();
    } finally {
      await reader.discard(ctx.state.upload);
    }
  };
}
