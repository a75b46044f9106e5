// Loaded by mocha before every suite (see .mocharc.json).
import { dropKeptDatabases } from './support/test-app';

process.env.TZ = 'UTC';

export const mochaHooks = {
  async afterAll() {
    await dropKeptDatabases();
  },
};
