// What the ops commands share: their exit statuses (sysexits.h) and how a run ends.
import { ConfigError, EX_CONFIG } from '../src/config';

export const EX_USAGE = 64;
export { EX_CONFIG };

/**
 * Runs a command's main and exits with its status: a setting or database that does not work is its lines
 * and EX_CONFIG, any other failure what `failure` makes of it and 1.
 */
export function runCommand(
  main: (args: string[]) => Promise<number>,
  failure: (err: unknown) => string,
): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof ConfigError) {
        console.error(err.problems.join('\n'));
        process.exit(EX_CONFIG);
      }
      console.error(failure(err));
      process.exit(1);
    },
  );
}
