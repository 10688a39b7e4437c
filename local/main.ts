// the SDK's notice about future Node versions is noise on a developer's terminal
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { startStack } = await import('./stack.ts');
const { JavaMissingError } = await import('./dynamodb.ts');

/** `npm start`: the whole backend on this machine. */
const port = Number(process.env.PORT ?? 4318);
const host = process.env.HOST ?? '127.0.0.1';
const dataDir = process.env.LIDLESS_DATA_DIR ?? '.lidless';

let stack: Awaited<ReturnType<typeof startStack>> | undefined;
let stopping = false;
/** Stops everything once, finishing the requests in flight; before the stack is up, exits at once (the JVM goes with the process). */
function stop(reason: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`${reason}: shutting down`);
  if (!stack) process.exit(1);
  stack.stop().then(
    () => process.exit(0),
    (err) => {
      console.error(`shutdown failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
// from the start, not only once ready: a signal's default action would end this process without its
// exit hook, leaving the DynamoDB JVM (a process group of its own) running
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
// a parent that went away without signalling (npm killed outright) must not leave the stack running
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop('parent process exited');
}, 1000).unref();

try {
  stack = await startStack({
    port,
    host,
    dataDir,
    operatorToken: process.env.LIDLESS_OPERATOR_TOKEN || undefined,
    log: (line) => console.error(line),
  });
  if (stack.operatorTokenFile) console.log(`operator token: ${stack.operatorTokenFile}`);
  console.log(`lidless ready on ${stack.url}`);
} catch (err) {
  if (err instanceof JavaMissingError) console.error(err.message);
  else console.error(`lidless could not start: ${(err as Error).message}`);
  process.exit(1);
}
