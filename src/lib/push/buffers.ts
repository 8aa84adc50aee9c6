// Chunk buffers shared by the workers of one push and reused from file to
// file. Allocating and freeing 8 MiB buffers per file lets glibc's dynamic
// mmap threshold climb and the heap fragment, so RSS grows with the file
// count; a pool keeps memory at about two chunks per worker.

export class ChunkBuffers {
  private readonly free: Buffer[] = []

  constructor(readonly size: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }

  give(buffer: Buffer): void {
    if (buffer.length === this.size) this.free.push(buffer)
  }
}
