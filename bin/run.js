#!/usr/bin/env node
import v8 from 'node:v8'
import {execute} from '@oclif/core'

// undici (ky's fetch) parses HTTP with llhttp compiled to WebAssembly; V8's
// optimising tier recompiles that parser in ~30 MiB of scratch memory, a
// quarter of a small push's peak RSS (114 -> 87 MiB). The baseline tier is
// enough for the few JSON calls that go through undici: blob bytes travel over
// node:http, whose parser is native.
v8.setFlagsFromString('--liftoff-only')

await execute({dir: import.meta.url})
