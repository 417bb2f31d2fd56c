#!/usr/bin/env node
// The coattail command; the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// The AWS SDK's notice about future Node versions is not something a user of this command can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('../dist/runtime/cli/main.js');

process.exitCode = await main(process.argv);
