#!/usr/bin/env node
import { main } from './main.ts';
import { guardStandardStreams } from './output.ts';

guardStandardStreams();
process.exitCode = await main(process.argv.slice(2));
