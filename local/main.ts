// the SDK's notice about future Node versions is noise on a developer's terminal
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { startStack } = await import('./stack.ts');
const { JavaMissingError } = await import('./dynamodb.ts');

/** `npm start`: the whole backend on this machine. */
const port = Number(process.env.PORT ?? 4318);
const host = process.env.HOST ?? '127.0.0.1';
const dataDir = process.env.LIDLESS_DATA_DIR ?? '.lidless';

try {
  const stack = await startStack({
    port,
    host,
    dataDir,
    operatorToken: process.env.LIDLESS_OPERATOR_TOKEN || undefined,
    log: (line) => console.error(line),
  });
  if (stack.operatorTokenFile) console.log(`operator token: ${stack.operatorTokenFile}`);
  console.log(`lidless ready on ${stack.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    stack.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (err) {
  if (err instanceof JavaMissingError) console.error(err.message);
  else console.error(`lidless could not start: ${(err as Error).message}`);
  process.exit(1);
}
