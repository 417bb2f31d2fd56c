#!/usr/bin/env node
// The coattail command; the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import { main } from '../dist/runtime/cli/main.js';

process.exitCode = await main(process.argv);
