// Who may talk to the trip viewer's server: this loopback origin only (Host and Origin checked against DNS rebinding and other local pages), and data only with the unlock's session cookie.
//
// Cookies are not isolated by port, and every port of 127.0.0.1 is the same *site*: SameSite=Strict
// alone would let a page served by any other local program send the cookie. So the Origin (and
// Sec-Fetch-Site, where the browser sends it) must name exactly this server, and the cookie's name
// carries the port so two viewers on one machine never overwrite each other's session.
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface GuardRefusal {
  status: number;
  code: 'HOST_REFUSED' | 'ORIGIN_REFUSED' | 'SESSION_REQUIRED' | 'JSON_REQUIRED';
  message: string;
}

export interface RequestFacts {
  method: string;
  host: string | undefined;
  origin: string | undefined;
  secFetchSite: string | undefined;
  contentType: string | undefined;
}

/** The Host values a browser sends to this server: the loopback address or `localhost`, with the port. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

/**
 * The refusal for a request that is not this server's own page talking to it, or null.
 * A foreign Host means a DNS-rebinding name pointing at 127.0.0.1; a foreign Origin, another page.
 */
export function refuseForeign(req: RequestFacts, port: number): GuardRefusal | null {
  const hosts = allowedHosts(port);
  if (req.host === undefined || !hosts.has(req.host.toLowerCase())) {
    return { status: 421, code: 'HOST_REFUSED', message: `Host ${JSON.stringify(req.host ?? '')} is not this trip viewer (open http://127.0.0.1:${port}/)` };
  }
  if (req.origin !== undefined && !(req.origin.startsWith('http://') && hosts.has(req.origin.slice('http://'.length).toLowerCase()))) {
    return { status: 403, code: 'ORIGIN_REFUSED', message: `requests from ${req.origin} are refused: only this trip viewer's own page may call it` };
  }
  if (req.secFetchSite !== undefined && req.secFetchSite !== 'same-origin' && req.secFetchSite !== 'none') {
    return { status: 403, code: 'ORIGIN_REFUSED', message: `a ${req.secFetchSite} request is refused: only this trip viewer's own page may call it` };
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    // Browsers always send Origin on a POST; a missing one is not a page of ours.
    if (req.origin === undefined) return { status: 403, code: 'ORIGIN_REFUSED', message: `${req.method} without an Origin header is refused` };
    // A JSON body cannot be sent cross-origin without a preflight, which this server never answers.
    if (!/^application\/json\b/i.test(req.contentType ?? '')) return { status: 415, code: 'JSON_REQUIRED', message: `${req.method} bodies must be application/json` };
  }
  return null;
}

/** The one session of an unlocked wallet: a random token per unlock, forgotten by lock. */
export class UiSession {
  readonly cookieName: string;
  private token: Buffer | null = null;

  constructor(port: number) {
    this.cookieName = `carchain_wallet_${port}`;
  }

  /** Starts a session (replacing any previous one) and returns the Set-Cookie header value. */
  open(): string {
    this.token = randomBytes(32);
    return `${this.cookieName}=${this.token.toString('base64url')}; Path=/; HttpOnly; SameSite=Strict`;
  }

  /** Ends the session; the header value makes the browser drop the cookie too. */
  close(): string {
    this.token = null;
    return `${this.cookieName}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  get isOpen(): boolean {
    return this.token !== null;
  }

  /** True when the Cookie header carries this session's token. */
  matches(cookieHeader: string | undefined): boolean {
    if (this.token === null || cookieHeader === undefined) return false;
    for (const part of cookieHeader.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== this.cookieName) continue;
      const given = Buffer.from(part.slice(eq + 1).trim(), 'base64url');
      if (given.length === this.token.length && timingSafeEqual(given, this.token)) return true;
    }
    return false;
  }
}
