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
const LIMITS = { files: 1, fields: 8, fieldSize: 1024, fieldNameSize: 64, parts: 10, headerPairs: 20 };
const noop = () => undefined;

/** A multipart body read: its text fields, and the photo in img_file if one came. */
export interface ReadUpload {
  fields: Record<string, string>;
  upload: ReceivedUpload | undefined;
}

/** How much of a refused body is read and dropped so that the client, still sending, reads the answer. */
const DRAIN_BYTES = 1024 * 1024;
const DRAIN_MS = 5_000;

/**
 * Reads and drops the rest of a refused request's body, as nginx's lingering close does, up to DRAIN_BYTES or
 * DRAIN_MS. Resolves true once the body has ended (the connection can serve the next request), false when
 * the bound was hit (the answer then closes the connection) or the request is gone.
 */
function drained(req: IncomingMessage): Promise<boolean> {
  if (req.readableEnded) return Promise.resolve(true);
  if (req.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let dropped = 0;
    const done = (ended: boolean) => {
      clearTimeout(timer);
      req.off('data', count).off('end', onEnd).off('close', onGone).off('error', onGone);
      if (!ended) req.pause();
      resolve(ended);
    };
    const count = (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > DRAIN_BYTES) done(false);
    };
    const onEnd = () => done(true);
    const onGone = () => done(false);
    const timer = setTimeout(onGone, DRAIN_MS);
    req.on('data', count).once('end', onEnd).once('close', onGone).once('error', onGone);
    req.resume();
  });
}

/** A part's name is there and short: busboy does not apply fieldNameSize to multipart bodies. */
const nameOk = (name: string | undefined) => name !== undefined && name.length <= LIMITS.fieldNameSize;
const badName = () =>
  errors.invalidRequest(`body: every part needs a name of at most ${LIMITS.fieldNameSize} characters`);

/** err, answered with `Connection: close` when it is ours (the body was not read to its end). */
function closing(err: unknown): unknown {
  return err instanceof AppError
    ? new AppError(err.status, err.code, err.message, { ...err.headers, Connection: 'close' })
    : err;
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
 * still sending, gets the answer rather than a reset), or DRAIN_BYTES of it or DRAIN_MS have passed (then the
 * answer closes the connection); after a read, discard() removes the temporary file unless the photo was
 * moved into the blob store.
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
          const removed = written
            ?.then((upload) => fs.promises.rm(upload.tempPath, { force: true }))
            .catch(noop); // a failed write removed its own file; a failed removal is left to the sweeper
          Promise.all([drained(req), removed]).then(([ended]) => reject(ended ? err : closing(err)));
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
