/**
 * The bench's ceiling for the HTTP path: a bare node:http server that streams the same multipart upload
 * to disk with busboy (temporary file, then rename, as pushpic does) and serves a stored file back with
 * Content-Type and Content-Length, two ways: streamed (/files/, the usual idiom) and read whole in one call
 * then sent from memory (/whole/, what pushpic does with files up to 1 MiB). No auth, no database, no
 * image checks.
 *
 *   tsc -p tsconfig.bench.json && PORT=... DIR=... node dist/bench/baseline-server.js
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pipeline } from 'node:stream';
import busboy from 'busboy';

const dir = path.resolve(process.env.DIR ?? 'baseline-files');
const tmp = path.join(dir, '.tmp');
fs.mkdirSync(tmp, { recursive: true });
const MAX_BYTES = 10 * 1024 * 1024;

function answer(res: http.ServerResponse, status: number, body: object) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function upload(req: http.IncomingMessage, res: http.ServerResponse) {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: MAX_BYTES } });
  } catch {
    return answer(res, 400, { error: 'malformed_multipart' });
  }
  let written: Promise<{ name: string; size: number }> | null = null;
  parser.on('file', (_field, file) => {
    const name = crypto.randomBytes(16).toString('hex');
    const part = path.join(tmp, `${name}.part`);
    let size = 0;
    file.on('data', (c: Buffer) => (size += c.length));
    written = new Promise((resolve, reject) =>
      pipeline(file, fs.createWriteStream(part, { flags: 'wx' }), (err) => {
        if (err) return reject(err);
        fs.rename(part, path.join(dir, name), (e) => (e ? reject(e) : resolve({ name, size })));
      }),
    );
  });
  parser.on('close', () => {
    if (!written) return answer(res, 422, { error: 'missing_file' });
    written.then(
      (file) => answer(res, 201, file),
      () => answer(res, 400, { error: 'upload_failed' }),
    );
  });
  parser.on('error', () => answer(res, 400, { error: 'malformed_multipart' }));
  req.pipe(parser);
}

async function download(name: string, res: http.ServerResponse) {
  if (!/^[0-9a-f]{32}$/.test(name)) return answer(res, 404, { error: 'not_found' });
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path.join(dir, name), 'r');
  } catch {
    return answer(res, 404, { error: 'not_found' });
  }
  const { size } = await handle.stat();
  res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': size });
  pipeline(handle.createReadStream(), res, () => undefined);
}

async function downloadWhole(name: string, res: http.ServerResponse) {
  if (!/^[0-9a-f]{32}$/.test(name)) return answer(res, 404, { error: 'not_found' });
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(path.join(dir, name));
  } catch {
    return answer(res, 404, { error: 'not_found' });
  }
  res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': bytes.length });
  res.end(bytes);
}

// The event-loop delay since the last GET /eventloop, as pushpic reports it in /metrics (prom-client's
// monitorEventLoopDelay at 10 ms resolution, reset on each reading).
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/upload') return upload(req, res);
  if (req.method === 'GET' && req.url === '/eventloop') {
    answer(res, 200, { p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 });
    return delay.reset();
  }
  if (req.method === 'GET' && req.url?.startsWith('/files/')) return void download(req.url.slice(7), res);
  if (req.method === 'GET' && req.url?.startsWith('/whole/'))
    return void downloadWhole(req.url.slice(7), res);
  answer(res, 404, { error: 'not_found' });
});
server.listen(Number(process.env.PORT ?? 3001), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
