// The gateway dashboard: its three static files (gateway/api/dashboard/) at / and /dashboard, and its live feed as Server-Sent Events at /v1/events.
//
// Everything the page needs comes from this server: the Content-Security-Policy allows no other
// origin, so a page that tried to fetch a font or a script from the internet would fail visibly.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiError } from './api-errors.js';
import { DashboardFeed, type DashboardFeedOptions } from './dashboard-feed.js';

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const ASSETS = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
} as const;

/**
 * Next to this module in the source tree; `tsc` copies no assets into dist/, so a build run from
 * dist/gateway/api/ finds them in the checkout's gateway/api/dashboard/.
 */
function assetsDir(): string | null {
  for (const candidate of ['./dashboard/', '../../../gateway/api/dashboard/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

function loadAssets(): Map<string, { type: string; body: Buffer }> | null {
  const dir = assetsDir();
  if (dir === null) return null;
  return new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(`${dir}${name}`) }]));
}

export function registerDashboardRoutes(app: FastifyInstance, options: DashboardFeedOptions): DashboardFeed {
  const feed = new DashboardFeed(options);
  const assets = loadAssets();
  // Before the HTTP server closes: an open event stream would otherwise keep app.close() waiting.
  app.addHook('preClose', (done) => {
    feed.close();
    done();
  });

  const serve = (name: keyof typeof ASSETS) => async (_req: unknown, reply: FastifyReply) => {
    const asset = assets?.get(name);
    if (asset === undefined) throw new ApiError('NOT_FOUND', `dashboard asset ${name} is not installed next to the gateway`);
    return reply.type(asset.type).header('cache-control', 'no-cache').header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff').send(asset.body);
  };
  app.get('/', serve('index.html'));
  app.get('/dashboard', serve('index.html'));
  app.get('/dashboard/dashboard.js', serve('dashboard.js'));
  app.get('/dashboard/dashboard.css', serve('dashboard.css'));

  // No HEAD twin: a HEAD request would hold a stream open with nothing to send.
  app.get('/v1/events', { exposeHeadRoute: false }, (req, reply) => {
    const refusal = feed.refusal();
    // The same error shape as every route; the code is the feed's own, as no API code fits.
    if (refusal !== null) return reply.code(503).send({ error: { code: refusal.code, message: refusal.message, temporary: true } });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    feed.subscribe(res);
    req.raw.once('close', () => res.end());
  });
  return feed;
}
