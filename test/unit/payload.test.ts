import { expect } from 'chai';
import { encode } from 'blurhash';
import { messagePayload } from '../../src/messages/payload';

/** GeTui refuses a transmission (push_message.transmission) longer than 3,072 characters. */
const GETUI_TRANSMISSION_LIMIT = 3072;

describe('message payload', () => {
  it('stays far under GeTui’s transmission limit with the largest values and the longest blurhash', () => {
    const pixels = new Uint8ClampedArray(32 * 32 * 4).map((_, i) => (i * 97) % 256);
    const longest = encode(pixels, 32, 32, 9, 9); // blurhash's maximum: 9 × 9 components
    expect(longest.length).to.equal(166);
    const payload = messagePayload(
      {
        messageId: 2 ** 31 - 1,
        senderUid: 2 ** 31 - 1,
        receiverUid: 2 ** 31 - 1,
        messageKey: 'f'.repeat(64),
        sendTime: 9_999_999_999_999,
        exist: true,
        filetype: 'image/jpeg',
        size: 10 * 1024 * 1024,
        width: 65_535,
        height: 65_535,
        blurhash: longest,
        clientMsgId: 'x'.repeat(64),
        deletedAt: null,
        expiredAt: null,
        lostAt: null,
      },
      { regionNum: '1268', phoneHash: 'e'.repeat(64) },
    );
    const transmission = JSON.stringify(payload);
    expect(transmission.length).to.be.below(GETUI_TRANSMISSION_LIMIT / 4);
    expect(JSON.parse(transmission).blurhash).to.equal(longest);
  });
});
