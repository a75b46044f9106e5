import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { LocalBlobStore } from '../../src/storage/local-blob-store';
import type { StoredBlob } from '../../src/storage/blob-store';

const key = (n: number) => n.toString(16).padStart(64, '0');

async function bytesOf(blob: StoredBlob): Promise<Buffer> {
  if (Buffer.isBuffer(blob.body)) return blob.body;
  const chunks: Buffer[] = [];
  for await (const c of blob.body as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('LocalBlobStore downloads', () => {
  let root: string;
  let store: LocalBlobStore;
  const put = async (n: number, size: number) => {
    const data = Buffer.alloc(size, n);
    const temp = path.join(root, `t${n}`);
    fs.writeFileSync(temp, data);
    await store.putFile(key(n), temp);
    return data;
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-blobs-'));
    store = new LocalBlobStore(root, { wholeFileMax: 1000, budget: 2500 });
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('reads a small file whole, and its bytes are the stored ones', async () => {
    const data = await put(1, 1000);
    const blob = (await store.open(key(1)))!;
    expect(Buffer.isBuffer(blob.body)).to.equal(true);
    expect(blob.size).to.equal(1000);
    expect((await bytesOf(blob)).equals(data)).to.equal(true);
    blob.release();
  });

  it('streams a file over the whole-file size', async () => {
    const data = await put(2, 1001);
    const blob = (await store.open(key(2)))!;
    expect(blob.body).to.be.instanceOf(Readable);
    expect((await bytesOf(blob)).equals(data)).to.equal(true);
    expect(store.heldBytes).to.equal(0);
  });

  it('streams once the files held whole reach the budget, and reads whole again once they are released', async () => {
    await put(3, 1000);
    const held = [(await store.open(key(3)))!, (await store.open(key(3)))!];
    expect(held.every((b) => Buffer.isBuffer(b.body))).to.equal(true);
    expect(store.heldBytes).to.equal(2000);
    const third = (await store.open(key(3)))!;
    expect(third.body).to.be.instanceOf(Readable);
    (third.body as Readable).destroy();
    held[0].release();
    held[0].release(); // releasing twice frees the share once
    expect(store.heldBytes).to.equal(1000);
    const again = (await store.open(key(3)))!;
    expect(Buffer.isBuffer(again.body)).to.equal(true);
    again.release();
    held[1].release();
    expect(store.heldBytes).to.equal(0);
  });

  it('sends the bytes on disk, with their real size, when the size its row records is wrong', async () => {
    const data = await put(5, 800);
    for (const recorded of [800, 799, 801, 5000]) {
      const blob = (await store.open(key(5), recorded))!;
      expect(blob.size).to.equal(800);
      expect((await bytesOf(blob)).equals(data)).to.equal(true);
      blob.release();
    }
    expect(store.heldBytes).to.equal(0);
  });

  it('answers null for a key with no file', async () => {
    expect(await store.open(key(4))).to.equal(null);
  });
});
