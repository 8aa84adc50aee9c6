#!/usr/bin/env -S node --import tsx --no-warnings
// Development entry: runs src/ through tsx. The build must have refreshed
// oclif.manifest.json (npm run build), or oclif would load stale commands.
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
