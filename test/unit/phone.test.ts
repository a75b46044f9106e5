import { expect } from 'chai';
import { AppError } from '../../src/errors';
import { normalizePhone, phoneHash } from '../../src/users/phone';

describe('phone numbers', () => {
  it('computes phone_hash as hex SHA-256 of the E.164 string (the README example)', () => {
    expect(phoneHash('+8613800138000')).to.equal(
      'ec61f3c620a98bdead8c1f1f0ae747abd1b62a0c2dba4fd4bc22cf0d1d8653e5',
    );
  });

  it('reads a calling code, a "+" calling code and an ISO country alike', () => {
    for (const region of ['86', '+86', 'CN', 'cn', ' 86 ']) {
      expect(normalizePhone(region, '138 0013 8000')).to.deep.equal({
        regionNum: '86',
        e164: '+8613800138000',
      });
    }
  });

  it('reads national and international formats alike', () => {
    for (const phone of ['13800138000', '+86 138-0013-8000', '+8613800138000', '(138) 0013 8000']) {
      expect(normalizePhone('86', phone).e164).to.equal('+8613800138000');
    }
  });

  it('refuses a number that belongs to another region than the one given', () => {
    expect(() => normalizePhone('86', '+44 7911 123456')).to.throw(AppError, /not valid/);
  });

  it('refuses impossible numbers and unknown regions', () => {
    for (const [region, phone] of [
      ['86', '123'],
      ['86', '99999999999'],
      ['ZZ', '13800138000'],
      ['8600', '13800138000'],
      ['', '13800138000'],
    ]) {
      expect(() => normalizePhone(region, phone), `${region} ${phone}`).to.throw(AppError);
    }
  });
});
