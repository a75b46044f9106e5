// Loaded by mocha before every suite (see .mocharc.json).
process.env.TZ = 'UTC';
