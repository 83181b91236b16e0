// Hand-written pages served by our own HTTP servers (the gateway dashboard, the wallet's trip viewer): their files and their Content-Security-Policy.
//
// Everything such a page needs comes from the server that serves it: the policy allows no other
// origin, so a page that tried to fetch a font or a script from the internet would fail visibly.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

export interface PageAsset {
  type: string;
  body: Buffer;
}

/**
 * Reads a page's files (name → content type) from the first candidate directory holding its
 * index.html: beside the module in dist/ (where `npm run build` copies them) or in the checkout
 * (`tsc` copies no assets). Null when neither has them.
 */
export function loadPageAssets(candidates: readonly URL[], files: Readonly<Record<string, string>>): Map<string, PageAsset> | null {
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(`${dir}index.html`)) return new Map(Object.entries(files).map(([name, type]) => [name, { type, body: readFileSync(`${dir}${name}`) }]));
  }
  return null;
}
