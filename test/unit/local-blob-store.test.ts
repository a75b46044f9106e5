import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { LocalBlobStore, ReadBuffers } from '../../src/storage/local-blob-store';
import type { StoredBlob } from '../../src/storage/blob-store';

const key = (n: number) => n.toString(16).padStart(64, '0');

async function bytesOf(blob: StoredBlob): Promise<Buffer> {
  if (Buffer.isBuffer(blob.body)) return blob.body;
  const chunks: Buffer[] = [];
  for await (const c of blob.body as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('ReadBuffers', () => {
  it('gives capacities at least as large as asked and at most a quarter larger', () => {
    for (const length of [1, 2, 3, 5, 700, 1001, 65_536, 203_285, 1_048_577]) {
      const capacity = ReadBuffers.capacityFor(length);
      expect(capacity).to.be.at.least(length);
      expect(capacity).to.be.at.most(Math.max(length * 1.25, length + 1));
    }
  });

  it('keeps at most its limit of spare bytes', () => {
    const buffers = new ReadBuffers(3000);
    const taken = [buffers.take(1000), buffers.take(1000), buffers.take(1000)];
    for (const b of taken) buffers.give(b);
    expect(buffers.kept).to.equal(2048); // a third 1024-byte buffer would pass 3000
  });
});

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

  it('reuses the buffer of a released download, never one still held, and sends only its own bytes', async () => {
    // 1000 and 900 bytes (plus the byte read past the end) take buffers of one capacity class.
    const big = await put(6, 1000);
    const small = await put(7, 900);
    const first = (await store.open(key(6), 1000))!;
    const second = (await store.open(key(7), 900))!;
    const memory = (b: StoredBlob) => (b.body as Buffer).buffer;
    expect(memory(second)).not.to.equal(memory(first)); // both held: two buffers
    expect((await bytesOf(first)).equals(big)).to.equal(true);
    expect((await bytesOf(second)).equals(small)).to.equal(true);

    first.release();
    first.release(); // a second release gives nothing back twice
    expect(store.spareBufferBytes).to.be.greaterThan(0);
    const third = (await store.open(key(7), 900))!;
    expect(memory(third)).to.equal(memory(first)); // the released buffer, taken again...
    expect(store.spareBufferBytes).to.equal(0); // ...once
    expect(third.size).to.equal(900);
    expect((await bytesOf(third)).equals(small)).to.equal(true); // nothing of the 1000-byte file shows
    const fourth = (await store.open(key(6), 1000))!;
    expect(memory(fourth)).not.to.equal(memory(third));
    expect((await bytesOf(fourth)).equals(big)).to.equal(true);
    for (const b of [second, third, fourth]) b.release();
    expect(store.heldBytes).to.equal(0);
  });

  it('answers null for a key with no file', async () => {
    expect(await store.open(key(4))).to.equal(null);
  });
});

describe('LocalBlobStore owner marker', () => {
  it('lets only one of two databases claiming an empty store at once win, and each learns which', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pushpic-owner-'));
    try {
      const a = new LocalBlobStore(root);
      const b = new LocalBlobStore(root);
      const [byA, byB] = await Promise.all([a.claimOwner('a'.repeat(32)), b.claimOwner('b'.repeat(32))]);
      expect(byA).to.equal(byB);
      expect(['a'.repeat(32), 'b'.repeat(32)]).to.include(byA);
      expect(await a.readOwner()).to.equal(byA);
      // Nothing of the attempt is left beside the marker.
      expect(fs.readdirSync(root)).to.deep.equal(['.pushpic-store.json']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
