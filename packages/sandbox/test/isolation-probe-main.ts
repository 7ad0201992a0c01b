import { runIsolationProbe } from "./isolation-probe";

/**
 * Runs the isolation probe in this process's identity and prints its result as JSON: the isolation
 * test starts this as an unprivileged user when the test itself runs as root.
 */
const result = await runIsolationProbe();
process.stdout.write(`${JSON.stringify(result)}\n`);
