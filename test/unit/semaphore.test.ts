import { expect } from 'chai';
import { Semaphore } from '../../src/images/semaphore';

function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('Semaphore', () => {
  it('runs at most size tasks at once and starts the others in arrival order', async () => {
    const slots = new Semaphore(2);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      slots.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).to.deep.equal([0, 1]);
    expect(slots.load).to.deep.equal({ active: 2, waiting: 2 });

    gates[1].resolve();
    expect(await runs[1]).to.equal(1);
    expect(started).to.deep.equal([0, 1, 2]);
    gates[0].reject(new Error('task failed'));
    expect(await runs[0].catch((e: Error) => e.message)).to.equal('task failed');
    expect(started).to.deep.equal([0, 1, 2, 3]);

    gates[2].resolve();
    gates[3].resolve();
    expect(await Promise.all(runs.slice(2))).to.deep.equal([2, 3]);
    expect(slots.load).to.deep.equal({ active: 0, waiting: 0 });
  });
});
