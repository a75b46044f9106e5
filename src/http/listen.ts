import type { Server } from 'node:http';
import { ConfigError } from '../config';

/** Why a listen failed, when the cause is HOST or PORT: a setting to change, said in one line. */
const SETTING_PROBLEMS: Record<string, (host: string, port: number) => string> = {
  EADDRINUSE: (host, port) => `PORT: ${host}:${port} is already in use`,
  EACCES: (host, port) => `PORT: ${host}:${port} cannot be bound (permission denied)`,
  ENOTFOUND: (host) => `HOST: ${host} is not an address or a known host name`,
  EAI_AGAIN: (host) => `HOST: ${host} could not be resolved (the name service did not answer)`,
  EADDRNOTAVAIL: (host) => `HOST: ${host} is not an address of this machine`,
  EAFNOSUPPORT: (host) => `HOST: ${host} is of an address family this machine does not support`,
};

/** Listens on host:port; a port taken or an address that is not ours is a ConfigError naming the setting. */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const refused = (err: NodeJS.ErrnoException) => {
      const problem = SETTING_PROBLEMS[err.code ?? '']?.(host, port);
      reject(problem ? new ConfigError([`${problem} (${err.code})`]) : err);
    };
    server.once('error', refused);
    server.listen(port, host, () => {
      server.off('error', refused); // later server errors are not start-up's to swallow
      resolve();
    });
  });
}
