import { expect } from 'chai';
import fc from 'fast-check';
import { z } from 'zod';
import { BLURHASH, RegisterBody, SendFields } from '../../src/http/schemas';
import { BASE83, blurhashProblem } from '../../src/images/media';

/** The documented patterns (what clients and fuzzers read) accept exactly what the server's checks accept. */
describe('the request schemas as /openapi.json states them', () => {
  const documented = (schema: z.ZodType) =>
    z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
      pattern: string;
      maxLength: number;
    };

  it('states the blurhash check exactly as a pattern', () => {
    const pattern = new RegExp(BLURHASH, 'u');
    const digits = fc.constantFrom(...BASE83);
    const candidates = fc.oneof(
      fc.stringMatching(pattern),
      fc.string({ unit: digits, maxLength: 170 }),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(candidates, (hash) => pattern.test(hash) === (blurhashProblem(hash) === null)),
      { numRuns: 5000, seed: 42 },
    );
    expect(pattern.test('LEHV6nWB2yk8pyo0adR*.7kCMdnj')).to.equal(true);
  });

  it('states the trimmed-text rule of cid and nickname as a pattern, for text within the length', () => {
    for (const field of ['cid', 'nickname'] as const) {
      const schema = RegisterBody.shape[field];
      const { pattern, maxLength } = documented(schema);
      const re = new RegExp(pattern, 'u');
      const text = fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 8 }),
        fc.string({
          unit: fc.constantFrom(' ', '\t', '\n', '\u00a0', '\u0000', '\u0085', 'a', 'é', '📷'),
          maxLength: 6,
        }),
      );
      fc.assert(
        fc.property(text, (s) => [...s].length > maxLength || re.test(s) === schema.safeParse(s).success),
        { numRuns: 3000, seed: 7 },
      );
    }
  });

  it('states the client_msg_id rule as a pattern', () => {
    const schema = SendFields.shape.client_msg_id.unwrap();
    const { pattern } = documented(schema);
    const re = new RegExp(pattern, 'u');
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }),
        (s) => re.test(s) === schema.safeParse(s).success,
      ),
      { numRuns: 3000, seed: 7 },
    );
  });
});
