#!/usr/bin/env node
// Thin launcher: the bundled CLI lives in dist/cli (built by `npm ci` via postinstall; see
// scripts/bundle-cli.mjs for why it is bundled).
import '../dist/cli/custodian.js';
