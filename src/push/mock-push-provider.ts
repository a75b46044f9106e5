import type { Logger } from '../logger';
import type { PushOutcome, PushProvider, PushRequest } from './push-provider';

/** The default provider for development: logs each push and keeps the most recent ones in memory. */
export class MockPushProvider implements PushProvider {
  readonly name = 'mock';
  readonly sent: PushRequest[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly keep = 1000,
  ) {}

  async send(request: PushRequest): Promise<PushOutcome> {
    this.sent.push(request);
    if (this.sent.length > this.keep) this.sent.shift();
    this.logger.info(
      { event: 'push.mock_sent', request_id: request.requestId, message_id: request.payload.message_id },
      'mock push sent',
    );
    return { kind: 'sent', taskId: `mock-${request.requestId}` };
  }
}
