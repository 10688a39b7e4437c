// `npm run seed`: the same as `lidless seed`, with LIDLESS_URL and an ingest key in LIDLESS_TOKEN.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main, processIo } = await import('../cli/main.ts');
process.exitCode = await main(['seed', ...process.argv.slice(2)], processIo());
