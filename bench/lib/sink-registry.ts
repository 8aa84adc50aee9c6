// A registry that keeps nothing: enough of the OCI distribution push API for `modelcar push`, hashing and
// counting every byte and then dropping it. Used only by BENCH_BIG=1 (one 9 GiB file), where the real registry
// would write 9 GiB to disk. It checks each blob's digest and size, so a wrong layer still fails the push.
import {createHash, randomUUID, type Hash} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo, Socket} from 'node:net'

export interface SinkRegistry {
  host: string
  url: string
  /** bytes received in blob bodies */
  received: number
  blobs: Map<string, number>
  close(): Promise<void>
}

interface Upload {
  hash: Hash
  size: number
}

export async function startSinkRegistry(): Promise<SinkRegistry> {
  const uploads = new Map<string, Upload>()
  const blobs = new Map<string, number>()
  const sockets = new Set<Socket>()
  const state = {received: 0}

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sink')
    const send = (status: number, headers: Record<string, string> = {}, body = '') => {
      res.writeHead(status, {
        'docker-distribution-api-version': 'registry/2.0',
        'content-length': String(Buffer.byteLength(body)),
        ...headers,
      })
      res.end(body)
    }
    const fail = (status: number, code: string, message: string) =>
      send(status, {'content-type': 'application/json'}, JSON.stringify({errors: [{code, message}]}))
    const p = url.pathname
    const method = req.method ?? 'GET'
    if (p === '/v2/' || p === '/v2') {
      req.resume()
      return send(200, {'content-type': 'application/json'}, '{}')
    }
    let m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(p)
    if (m) {
      const [, name, id] = m
      if (method === 'POST' && id === '') {
        req.resume()
        const uuid = randomUUID()
        uploads.set(uuid, {hash: createHash('sha256'), size: 0})
        return send(202, {location: `/v2/${name}/blobs/uploads/${uuid}`, range: '0-0', 'docker-upload-uuid': uuid})
      }
      const up = uploads.get(id)
      if (!up) {
        req.resume()
        return fail(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry')
      }
      const range = () => (up.size === 0 ? '0-0' : `0-${up.size - 1}`)
      if (method === 'GET') {
        req.resume()
        return send(204, {location: `/v2/${name}/blobs/uploads/${id}`, range: range(), 'docker-upload-uuid': id})
      }
      if (method === 'DELETE') {
        req.resume()
        uploads.delete(id)
        return send(204)
      }
      if (method === 'PATCH' || method === 'PUT') {
        req.on('data', (chunk: Buffer) => {
          up.hash.update(chunk)
          up.size += chunk.length
          state.received += chunk.length
        })
        req.on('end', () => {
          if (method === 'PATCH') return send(202, {location: `/v2/${name}/blobs/uploads/${id}`, range: range(), 'docker-upload-uuid': id})
          uploads.delete(id)
          const digest = `sha256:${up.hash.digest('hex')}`
          if (digest !== url.searchParams.get('digest'))
            return fail(400, 'DIGEST_INVALID', `provided digest did not match uploaded content (got ${digest})`)
          blobs.set(digest, up.size)
          return send(201, {location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest})
        })
        return
      }
    }
    m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(p)
    if (m && (method === 'HEAD' || method === 'GET')) {
      req.resume()
      const size = blobs.get(m[2])
      if (size === undefined) return fail(404, 'BLOB_UNKNOWN', 'blob unknown to registry')
      res.writeHead(200, {'docker-distribution-api-version': 'registry/2.0', 'content-length': String(size), 'docker-content-digest': m[2]})
      return res.end()
    }
    m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(p)
    if (m && method === 'PUT') {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
        send(201, {location: `/v2/${m[1]}/manifests/${digest}`, 'docker-content-digest': digest})
      })
      return
    }
    req.resume()
    return fail(404, 'UNSUPPORTED', `${method} ${p} is not supported by the bench sink`)
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    get received() {
      return state.received
    },
    blobs,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
  }
}
