/**
 * A phone's upload from a process of its own, as undici (Node's fetch) makes it: the whole body is written
 * before the answer is read. Run with ts-node; reads a JSON list of uploads on stdin and prints, for each,
 * the status and error code it read, or the network error it met instead.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { fetch, FormData, request } from 'undici';

interface Upload {
  url: string;
  headers: Record<string, string>;
  fields: Record<string, string>;
  /** The photo's file. */
  photo: string;
  /** declared: a FormData body with its length; chunked: the same multipart as a stream of 16 KB chunks. */
  mode: 'declared' | 'chunked';
  boundary: string;
}

async function upload(u: Upload): Promise<{ status?: number; error?: string; network?: string }> {
  const photo = fs.readFileSync(u.photo);
  try {
    if (u.mode === 'declared') {
      const form = new FormData();
      for (const [k, v] of Object.entries(u.fields)) form.append(k, v);
      form.append('img_file', new Blob([photo], { type: 'image/jpeg' }), 'photo.jpg');
      const res = await fetch(u.url, { method: 'POST', body: form, headers: u.headers });
      return { status: res.status, error: ((await res.json()) as { error?: string }).error };
    }
    const head = Object.entries(u.fields)
      .map(([k, v]) => `--${u.boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('');
    const body = Buffer.concat([
      Buffer.from(
        `${head}--${u.boundary}\r\nContent-Disposition: form-data; name="img_file"; filename="photo.jpg"\r\n` +
          'Content-Type: image/jpeg\r\n\r\n',
      ),
      photo,
      Buffer.from(`\r\n--${u.boundary}--\r\n`),
    ]);
    const chunks = Array.from({ length: Math.ceil(body.length / 16384) }, (_, i) =>
      body.subarray(i * 16384, (i + 1) * 16384),
    );
    const res = await request(u.url, {
      method: 'POST',
      headers: { ...u.headers, 'content-type': `multipart/form-data; boundary=${u.boundary}` },
      body: Readable.from(chunks),
    });
    return { status: res.statusCode, error: ((await res.body.json()) as { error?: string }).error };
  } catch (err) {
    const e = err as { cause?: { code?: string }; code?: string; message: string };
    return { network: e.cause?.code ?? e.code ?? e.message };
  }
}

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const results = [];
  for (const u of JSON.parse(input) as Upload[]) results.push(await upload(u));
  process.stdout.write(JSON.stringify(results));
});
