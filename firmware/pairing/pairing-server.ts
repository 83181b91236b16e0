// The dongle's local pairing endpoint (HTTP on a loopback/LAN address): info, pool keys, setup, setDup, reset.
//
// In a car this sits behind BLE or the dongle's own Wi-Fi page; the routes and JSON bodies are the
// same. Every failure is a JSON body {error: {code, message}} with a 4xx status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CarchainError } from '../../protocol/errors.js';
import { PairingError, type PairingService } from './pairing-service.js';

const MAX_BODY_BYTES = 64 * 1024;

const STATUS: Record<string, number> = {
  PAIRING_ALREADY_CLAIMED: 409,
  PAIRING_NOT_CLAIMED: 409,
  PAIRING_BAD_SECRET: 403,
  PAIRING_RESET_UNAUTHORISED: 403,
  PAIRING_BAD_SIGNATURE: 403,
  PAIRING_STALE: 409,
};

export interface PairingServerHandle {
  url: string;
  close(): Promise<void>;
}

export async function startPairingServer(service: PairingService, options: { host?: string; port?: number } = {}): Promise<PairingServerHandle> {
  const server: Server = createServer((req, res) => {
    handle(service, req, res).catch((err: unknown) => reply(res, 500, { error: { code: 'INTERNAL', message: String(err) } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function handle(service: PairingService, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://device');
  try {
    if (req.method === 'GET' && url.pathname === '/pairing') return reply(res, 200, service.info());
    if (req.method === 'GET' && url.pathname === '/pool-keys') return reply(res, 200, { keys: service.poolKeys(Number(url.searchParams.get('count') ?? '16')) });
    if (req.method === 'POST' && url.pathname === '/setup') return reply(res, 200, service.setup(await readJson(req)));
    if (req.method === 'POST' && url.pathname === '/setdup') return reply(res, 200, service.setDup(await readJson(req)));
    if (req.method === 'POST' && url.pathname === '/reset') return reply(res, 200, service.reset(await readJson(req)));
    return reply(res, 404, { error: { code: 'NOT_FOUND', message: `${req.method} ${url.pathname} is not a pairing route` } });
  } catch (err) {
    if (err instanceof CarchainError) {
      const code = String(err.code);
      return reply(res, STATUS[code] ?? 400, { error: { code, message: err.message } });
    }
    throw err;
  }
}

async function readJson<T>(req: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new PairingError('PAIRING_BAD_REQUEST', `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (parsed === null || typeof parsed !== 'object') throw new Error('not an object');
    return parsed as T;
  } catch (cause) {
    throw new PairingError('PAIRING_BAD_REQUEST', 'body must be a JSON object', { cause });
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
