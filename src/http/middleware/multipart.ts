import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { AppError, errors } from '../../errors';
import type { ReceivedUpload } from '../../messages/send-message';
import type { Services } from '../../services';
import type { AppMiddleware } from '../context';

/** Room for the multipart framing and the few text fields around the photo. */
const MULTIPART_OVERHEAD = 64 * 1024;
/** The one file field. */
const FILE_FIELD = 'img_file';
/** The form's limits, as the OpenAPI document and the send's schema state them too. */
export const LIMITS = { files: 1, fields: 8, fieldSize: 1024, fieldNameSize: 64, parts: 10, headerPairs: 20 };
const noop = () => undefined;

/** A multipart body read: its text fields, and the photo in img_file if one came. */
export interface ReadUpload {
  fields: Record<string, string>;
  upload: ReceivedUpload | undefined;
}

/** A part's name is there and short: busboy does not apply fieldNameSize to multipart bodies. */
const nameOk = (name: string | undefined) => name !== undefined && name.length <= LIMITS.fieldNameSize;
const badName = () =>
  errors.invalidRequest(`body: every part needs a name of at most ${LIMITS.fieldNameSize} characters`);

/**
 * The refusal an upload has earned by its declared Content-Length alone (null when the length is not
 * declared, or within the limit): answered before a byte of the body is read, and before `100 Continue`
 * to a client that waits for it.
 */
export function declaredTooLarge(req: IncomingMessage, maxBytes: number): AppError | null {
  return Number(req.headers['content-length']) > maxBytes + MULTIPART_OVERHEAD
    ? errors.payloadTooLarge(maxBytes)
    : null;
}

/**
 * Reads `multipart/form-data` with one photo in `img_file`, streamed through the media module (which checks
 * and strips it on the way) to a temporary file, and refused as soon as it passes MAX_UPLOAD_BYTES. It works
 * on a bare node:http request: the Koa route (receiveUpload below) and the send lane (../send-lane.ts) share
 * it. busboy parses; the limits, and what each breach is answered, are ours:
 * - a declared Content-Length over the limit: 413 before a byte of the body is read;
 * - a photo over the limit while it streams in (chunked uploads): 413;
 * - a file in another field, a second file, a repeated, over-long or over-numerous field: 422;
 * - a body that is not well-formed multipart, or that ends early: 400 malformed_multipart.
 * read() throws as soon as it knows, with nothing left on disk; the rest of the body is read and dropped
 * after the answer (../linger.ts), so that a client still sending reads it rather than a reset. After a
 * read, discard() removes the temporary file unless the photo was moved into the blob store.
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
      // Gone while the request waited for its checks (an abort with the body already buffered): its 'close'
      // has fired, and nothing more will come.
      if (req.destroyed || req.readableAborted) return Promise.reject(errors.malformedMultipart());
      const tooLarge = declaredTooLarge(req, maxBytes);
      if (tooLarge) return Promise.reject(tooLarge);
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

        /** The first problem ends the read: stop parsing, remove what was written, then answer. */
        const fail = (err: unknown) => {
          if (settled) return;
          settled = true;
          req.unpipe(parser);
          // The rest of the body is dropped as it comes (node leaves a request it has seen read alone).
          req.resume();
          parser.removeAllListeners().on('error', noop);
          file?.destroy(); // the write ends (refused) rather than waiting for bytes that will not come
          const removed = written
            ?.then((upload) => fs.promises.rm(upload.tempPath, { force: true }))
            .catch(noop); // a failed write removed its own file; a failed removal is left to the sweeper
          void Promise.resolve(removed).then(() => reject(err));
        };
        const tooLong = (name: string) => fail(errors.invalidRequest(`${name}: too long`));
        const oneFile = (name: string) =>
          fail(errors.invalidRequest(`${name}: send exactly one file, in the field ${FILE_FIELD}`));

        parser.on('field', (name, value, info) => {
          if (!nameOk(name)) return fail(badName());
          if (info.valueTruncated) return tooLong(name);
          if (name in fields) return fail(errors.invalidRequest(`${name}: send it once`));
          fields[name] = value;
        });
        parser.on('file', (name, stream) => {
          // busboy destroys a part's stream with its parse error, which the parser reports too; until the
          // media module listens (after it has opened the file), nothing else would.
          stream.on('error', noop);
          if (!nameOk(name)) {
            stream.resume();
            return fail(badName());
          }
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
          // The disk failed (an error of ours: a failed system call), or the stream did: the body was cut short.
          written.catch((err: NodeJS.ErrnoException) =>
            fail(err.syscall ? err : errors.malformedMultipart()),
          );
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
