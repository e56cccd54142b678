import { ConfigError, exitWithConfigError } from "./config.js";

/**
 * The life of a service process: start it; on SIGTERM or SIGINT stop it and exit 0; if it cannot
 * start, say why in one line and exit 1 (2 for a configuration error, as at the config check).
 */
export function runServiceProcess(name: string, start: () => Promise<{ stop(): Promise<void> }>): void {
  start().then(
    (running) => {
      const stop = () => void running.stop().finally(() => process.exit(0));
      process.once("SIGTERM", stop).once("SIGINT", stop);
    },
    (e: unknown) => {
      if (e instanceof ConfigError) exitWithConfigError(e);
      console.error(`${name} failed to start:`, e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
