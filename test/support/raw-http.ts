import http from 'node:http';
import net from 'node:net';

export const BOUNDARY = '----pushpicTestBoundary7MA4YWxk';

/** A multipart body built by hand, for bodies a well-behaved client would never send. */
export function multipartBody(
  parts: { name: string; value: string | Buffer; filename?: string; type?: string }[],
) {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    const head = `--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`;
    chunks.push(
      Buffer.from(head),
      Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

export interface RawResponse {
  status: number;
  body: Record<string, unknown>;
}

/** Sends a body as given (chunked when contentLength is omitted), and reads the JSON answer. */
export function rawPost(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  contentLength?: number,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      method: 'POST',
      // A connection of its own: a body shorter than its declared length must not carry the next request.
      agent: false,
      headers: {
        'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`,
        ...(contentLength === undefined ? {} : { 'Content-Length': String(contentLength) }),
        ...headers,
      },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Starts an upload that declares `declared` bytes, sends `sent` of them, then drops the connection,
 * the way a phone that loses its network mid-upload does.
 */
export function abandonUpload(port: number, headers: Record<string, string>, body: Buffer, declared: number) {
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const head = [
        'POST /v1/messages HTTP/1.1',
        'Host: 127.0.0.1',
        `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
        `Content-Length: ${declared}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        '',
        '',
      ].join('\r\n');
      socket.write(head);
      socket.write(body, () => {
        socket.destroy();
        resolve();
      });
    });
    socket.on('error', reject);
  });
}
