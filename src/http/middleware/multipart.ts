import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import multer, { MulterError, type StorageEngine } from 'multer';
import { AppError, errors } from '../../errors';
import type { ReceivedImage } from '../../images/media';
import type { ReceivedUpload } from '../../messages/send-message';
import type { Services } from '../../services';
import type { TempFiles } from '../../storage/temp-files';
import type { AppMiddleware } from '../context';

/** Writes an upload's bytes to a new file as they arrive (the media module: checked, stripped). */
export type ReceiveImage = (chunks: AsyncIterable<Buffer>, path: string) => Promise<ReceivedImage>;

/** Room for the multipart framing and the few text fields around the photo. */
const MULTIPART_OVERHEAD = 64 * 1024;

type StoredFile = Express.Multer.File & { image?: ReceivedImage };

/**
 * The write in flight for each request. multer finishes an aborted request without waiting for the
 * storage engine, so the middleware waits here before removing what was written.
 */
const writes = new WeakMap<IncomingMessage, { path: string; done: Promise<void> }>();

/** Streams the one file part to a temporary file through the media module, which checks it on the way. */
class TempFileStorage implements StorageEngine {
  constructor(
    private readonly tempFiles: TempFiles,
    private readonly receive: ReceiveImage,
  ) {}

  _handleFile(
    _req: IncomingMessage,
    file: StoredFile,
    cb: (error?: unknown, info?: StoredFile) => void,
  ): void {
    const path = this.tempFiles.newPath();
    file.path = path; // lets multer's abort cleanup find the file while it is still being written
    const received = this.receive(file.stream, path);
    writes.set(_req, { path, done: received.then(noop, noop) });
    received.then(
      (image) => cb(null, { path, size: image.receivedBytes, image } as StoredFile), // multer merges these in
      (err) => cb(err),
    );
  }

  _removeFile(_req: IncomingMessage, file: StoredFile, cb: (error: Error) => void): void {
    fs.rm(file.path, { force: true }, (err) => cb(err as Error)); // multer treats a null error as success
  }
}

const noop = () => undefined;

function toClientError(err: unknown, maxBytes: number): AppError | null {
  if (err instanceof MulterError) {
    switch (err.code) {
      case 'LIMIT_FILE_SIZE':
        return errors.payloadTooLarge(maxBytes);
      case 'LIMIT_UNEXPECTED_FILE':
      case 'LIMIT_FILE_COUNT':
        return errors.invalidRequest(`${err.field ?? 'file'}: send exactly one file, in the field img_file`);
      case 'LIMIT_FIELD_VALUE':
      case 'LIMIT_FIELD_KEY':
        return errors.invalidRequest(`${err.field ?? 'field'}: too long`);
      case 'LIMIT_FIELD_COUNT':
      case 'LIMIT_PART_COUNT':
        return errors.invalidRequest('body: too many fields');
      default:
        return errors.malformedMultipart();
    }
  }
  // busboy's parse errors ("Unexpected end of form", "Malformed part header"...) and a client that went
  // away carry no errno code; file system errors do, and those are ours, not the client's.
  if (err instanceof Error && !(err as NodeJS.ErrnoException).code) return errors.malformedMultipart();
  return null;
}

/** Waits for the request's temporary file to be closed, then removes it (a kept file was moved away). */
async function removeWritten(req: IncomingMessage): Promise<void> {
  const write = writes.get(req);
  if (!write) return;
  await write.done;
  await fs.promises.rm(write.path, { force: true });
}

/** A multipart body read: its text fields, and the photo in img_file if one came. */
export interface ReadUpload {
  fields: Record<string, unknown>;
  upload: ReceivedUpload | undefined;
}

/**
 * Reads `multipart/form-data` with one photo in `img_file`, streamed to a temporary file and refused as soon
 * as it passes maxBytes, on a bare node:http request: the Koa route (receiveUpload below) and the send lane
 * (../send-lane.ts) share it. read() throws the client's 4xx (or a file system error) with nothing left on
 * disk; after a read, discard() removes the temporary file unless the photo was moved away.
 */
export function uploadReader({ tempFiles, config, media }: Pick<Services, 'tempFiles' | 'config' | 'media'>) {
  const maxBytes = config.maxUploadBytes;
  const single = multer({
    storage: new TempFileStorage(tempFiles, media.receive),
    limits: {
      fileSize: maxBytes,
      files: 1,
      fields: 8,
      fieldSize: 1024,
      fieldNameSize: 64,
      parts: 10,
      headerPairs: 20,
    },
  }).single('img_file');

  return {
    async read(req: IncomingMessage, res: ServerResponse): Promise<ReadUpload> {
      if (Number(req.headers['content-length']) > maxBytes + MULTIPART_OVERHEAD) {
        // Refused without reading a byte of the body; the connection cannot be reused after that.
        throw errors.payloadTooLarge(maxBytes, { Connection: 'close' });
      }
      const parsed = req as IncomingMessage & { body?: Record<string, unknown>; file?: StoredFile };
      try {
        await new Promise<void>((resolve, reject) =>
          single(parsed as never, res as never, (err?: unknown) => (err ? reject(err) : resolve())),
        );
      } catch (err) {
        await removeWritten(req);
        throw toClientError(err, maxBytes) ?? err;
      }
      const { body = {}, file } = parsed;
      delete parsed.body;
      delete parsed.file;
      const upload = file?.image ? { tempPath: file.path, size: file.size, image: file.image } : undefined;
      return { fields: body, upload };
    },

    /** Ends a read: removes its temporary file, unless the photo was moved into the blob store. */
    async discard(req: IncomingMessage, upload: ReceivedUpload | undefined): Promise<void> {
      if (!upload?.moved) await removeWritten(req);
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
    const { fields, upload } = await reader.read(ctx.req, ctx.res);
    ctx.request.body = fields;
    ctx.state.upload = upload;
    try {
      await next();
    } finally {
      await reader.discard(ctx.req, ctx.state.upload);
    }
  };
}
