/**
 * Errors are values with an HTTP status and a stable code. The renderer in src/http/middleware/errors.ts
 * turns them into `{ "error": code, "message": message }`; anything else becomes a generic 500.
 */
export class AppError extends Error {
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const errors = {
  invalidRequest: (message: string) => new AppError(422, 'invalid_request', message),
  invalidJson: () => new AppError(400, 'invalid_json', 'The request body is not valid JSON.'),
  malformedMultipart: (message = 'The multipart body is malformed or incomplete.') =>
    new AppError(400, 'malformed_multipart', message),
  unsupportedContentType: (expected: string) =>
    new AppError(415, 'unsupported_content_type', `The request body must be ${expected}.`),
  invalidPhoneNumber: (message = 'The phone number is not valid for the given region.') =>
    new AppError(422, 'invalid_phone_number', message),
  phoneAlreadyRegistered: () =>
    new AppError(
      409,
      'phone_already_registered',
      'This phone number is already registered. Moving an account to a new device needs SMS verification.',
    ),
  unauthorized: () =>
    new AppError(401, 'unauthorized', 'Missing or wrong credentials: send X-Phone-Hash and X-Ukey.'),
  userNotFound: () => new AppError(404, 'user_not_found', 'No user has this uid.'),
  receiverNotFound: () => new AppError(404, 'receiver_not_found', 'No user has this receiver_uid.'),
  messageNotFound: () =>
    new AppError(404, 'message_not_found', 'No message with this key is addressed to you.'),
  gone: () =>
    new AppError(410, 'gone', 'This photo was deleted after it was downloaded; it is no longer stored.'),
  photoLost: () =>
    new AppError(
      410,
      'photo_lost',
      "This photo's file is missing from the server's store, so it cannot be downloaded; delete the message.",
    ),
  expired: () =>
    new AppError(
      410,
      'expired',
      'This photo was not downloaded in time and has expired; it is no longer stored.',
    ),
  tooManyRequests: (retryAfterSeconds: number) =>
    new AppError(429, 'too_many_requests', `Too many requests; try again in ${retryAfterSeconds} s.`, {
      'Retry-After': String(retryAfterSeconds),
    }),
  payloadTooLarge: (limit: number) =>
    new AppError(413, 'payload_too_large', `The upload is larger than the limit of ${limit} bytes.`),
  unsupportedMediaType: () =>
    new AppError(415, 'unsupported_media_type', 'The file is not a JPEG, PNG, WebP, GIF or AVIF image.'),
  imageTooLarge: (maxPixels: number) =>
    new AppError(422, 'image_too_large', `The image has more than ${maxPixels} pixels.`),
  invalidImage: (reason: string) =>
    new AppError(422, 'invalid_image', `The image is damaged or malformed: ${reason}.`),
  missingFile: () =>
    new AppError(422, 'missing_file', 'Attach the photo as the multipart file field img_file.'),
  notFound: () => new AppError(404, 'not_found', 'There is no such route.'),
  /** Node's HTTP parser refused the request (src/http/server.ts): before any route. */
  headersTooLarge: () => new AppError(431, 'headers_too_large', 'The request headers are larger than 16 KB.'),
  badHttp: () => new AppError(400, 'bad_request', 'The request is not well-formed HTTP.'),
  requestTimeout: () =>
    new AppError(
      408,
      'request_timeout',
      'The request did not arrive in time (its headers, or the whole of it).',
    ),
  methodNotAllowed: (allow: string) =>
    new AppError(405, 'method_not_allowed', `This route accepts only ${allow}.`, { Allow: allow }),
};
