#!/usr/bin/env node
// Thin launcher: the compiled entry point lives in dist/server (built by `npm ci` via postinstall).
import '../dist/server/bin/custodian.js';
