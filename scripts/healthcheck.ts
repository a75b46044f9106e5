// `node dist/scripts/healthcheck.js`: exit 0 when the server on this machine answers GET /healthz with
// 200, else 1 (the Dockerfile's HEALTHCHECK). Reads HOST and PORT as the server does; no curl needed.
import http from 'node:http';
import { loadConfig } from '../src/config';

const config = loadConfig();
// A server on every interface is asked on loopback.
const host = { '0.0.0.0': '127.0.0.1', '::': '::1' }[config.host] ?? config.host;
const request = http.get({ host, port: config.port, path: '/healthz', timeout: 5000 }, (res) => {
  res.resume();
  if (res.statusCode !== 200) console.error(`GET /healthz answered ${res.statusCode}`);
  process.exit(res.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('no answer within 5 s')));
request.on('error', (err) => {
  console.error(`GET /healthz on ${host}:${config.port} failed: ${err.message}`);
  process.exit(1);
});
