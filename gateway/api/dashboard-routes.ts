// The gateway dashboard: its three static files (gateway/api/dashboard/) at / and /dashboard, and its live feed as Server-Sent Events at /v1/events.
//
// Everything the page needs comes from this server (gateway/api/static-page.ts: files and policy).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiError } from './api-errors.js';
import { DashboardFeed, type DashboardFeedOptions } from './dashboard-feed.js';
import { loadPageAssets, PAGE_CONTENT_SECURITY_POLICY } from './static-page.js';

const ASSETS = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
} as const;

/** Beside this module (dist/ after `npm run build`), else the checkout's gateway/api/dashboard/. */
const loadAssets = () => loadPageAssets([new URL('./dashboard/', import.meta.url), new URL('../../../gateway/api/dashboard/', import.meta.url)], ASSETS);

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
    return reply.type(asset.type).header('cache-control', 'no-cache').header('content-security-policy', PAGE_CONTENT_SECURITY_POLICY)
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
