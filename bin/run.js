#!/usr/bin/env node
import v8 from 'node:v8'
import {execute} from '@oclif/core'

// undici (ky's fetch) parses HTTP with llhttp compiled to WebAssembly; V8's
// optimising tier recompiles that parser in ~30 MiB of scratch memory, a
// quarter of a small push's peak RSS (114 -> 87 MiB). The baseline tier is
// enough for the few JSON calls that go through undici: blob bytes travel over
// node:http, whose parser is native.
v8.setFlagsFromString('--liftoff-only')
// V8 grows the young generation to 32 MiB under a push's steady allocation
// (promises, small views of socket reads), though almost all of it dies young:
// keeping it at its first 2 MiB took ~20 MiB off a push's peak RSS at
// --workers 4, for no measurable CPU (the flag is read each time it would grow).
v8.setFlagsFromString('--semi-space-growth-factor=1')

await execute({dir: import.meta.url})
