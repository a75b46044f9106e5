import { expect } from 'chai';
import { classifyGetuiAnswer, type GetuiAnswer } from '../../src/push/getui-client';

describe('GeTui answers (the table of docs/push-providers.md)', () => {
  const kind = (a: Partial<GetuiAnswer>) => classifyGetuiAnswer({ httpStatus: 200, ...a });

  it('maps each documented code to done, retry, token refresh, invalid device or permanent failure', () => {
    expect(kind({ code: 0 }).kind).to.equal('ok');
    expect(kind({ code: 2 }).kind).to.equal('retry');
    expect(kind({ code: 301 }).kind).to.equal('retry');
    expect(kind({ code: 10001, httpStatus: 401 }).kind).to.equal('reauth');
    expect(kind({ code: 10002, httpStatus: 403 }).kind).to.equal('failed');
    expect(kind({ code: 10003 })).to.deep.include({ kind: 'retry', retryAfterMs: 60_000 });
    expect(kind({ code: 10005 })).to.deep.include({ kind: 'retry', retryAfterMs: 60_000 });
    expect(kind({ code: 20001, msg: 'target user is invalid', httpStatus: 400 }).kind).to.equal(
      'invalid_target',
    );
    expect(kind({ code: 20001, msg: 'request_id too long', httpStatus: 400 }).kind).to.equal('failed');
    expect(kind({ code: 30001 })).to.deep.include({ kind: 'retry', retryAfterMs: 600_000 });
    expect(kind({ code: 30019 }).kind).to.equal('retry');
  });

  it('reads the answer whatever the HTTP status, and retries what is not an answer', () => {
    expect(kind({ code: 0, httpStatus: 400 }).kind).to.equal('ok');
    expect(kind({ httpStatus: 503, retryAfterMs: 5000 })).to.deep.include({
      kind: 'retry',
      retryAfterMs: 5000,
    });
    expect(kind({ httpStatus: 502 }).kind).to.equal('retry');
    expect(kind({ code: 99999, httpStatus: 500 }).kind).to.equal('retry');
    expect(kind({ code: 99999, httpStatus: 400 }).kind).to.equal('failed');
  });

  it('tells an outage (every push would fail alike) from a limit on our calls', () => {
    const cause = (a: Partial<GetuiAnswer>) => {
      const v = kind(a);
      return v.kind === 'retry' ? v.cause : v.kind;
    };
    expect(cause({ code: 2 })).to.equal('outage'); // service starting
    expect(cause({ code: 30019 })).to.equal('outage'); // system busy
    expect(cause({ code: 301 })).to.equal('outage'); // wrong data centre: every call alike
    expect(cause({ httpStatus: 503 })).to.equal('outage'); // a gateway's page
    expect(cause({ code: 99999, httpStatus: 500 })).to.equal('outage');
    expect(cause({ code: 10003 })).to.equal('rate_limit');
    expect(cause({ code: 10005 })).to.equal('rate_limit');
    expect(cause({ code: 30001 })).to.equal('rate_limit');
    expect(kind({ httpStatus: 429 })).to.deep.include({ cause: 'rate_limit', retryAfterMs: 60_000 });
  });

  it('keeps a Retry-After longer than the code’s own floor', () => {
    expect(kind({ code: 10005, retryAfterMs: 90_000 })).to.deep.include({ retryAfterMs: 90_000 });
  });
});
