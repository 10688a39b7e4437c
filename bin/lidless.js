#!/usr/bin/env node
// `npx lidless`: the CLI is TypeScript, run through tsx's loader (a runtime dependency).
// The AWS SDK's notice about future Node versions is noise on a terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
const { main, processIo } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2), processIo());
