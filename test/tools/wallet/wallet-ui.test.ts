// The trip viewer's server over real HTTP on loopback: unlock wrong/right, the session cookie on every data route, foreign Host/Origin refused, lock forgets, 127.0.0.1 only.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateMnemonic } from '../../../protocol/hd-keys.js';
import { WalletUiError, startWalletUi, type WalletUiHandle } from '../../../tools/wallet/ui/wallet-ui-server.js';
import { createWallet } from '../../../tools/wallet/wallet-keystore.js';

const FAST_KDF = { N: 1024, r: 8, p: 1 };
const PASSPHRASE = 'correct horse battery staple';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** One raw HTTP request (node:http lets the test send any Host and Origin, as a rebinding page or another local site would). */
function call(port: number, method: string, path: string, o: { headers?: Record<string, string>; body?: unknown; host?: string; noOrigin?: boolean } = {}): Promise<Answer> {
  const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const headers: Record<string, string> = { host: o.host ?? `127.0.0.1:${port}`, ...o.headers };
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers.origin ??= `http://127.0.0.1:${port}`;
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  if (o.noOrigin) delete headers.origin;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Answer['json'] = {};
        try {
          json = JSON.parse(text) as Answer['json'];
        } catch {
          // a page, not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const cookieOf = (a: Answer): string => {
  const set = a.headers['set-cookie'];
  const first = Array.isArray(set) ? set[0]! : set!;
  return first.split(';')[0]!;
};

async function fixture(t: Test, chainRpcUrl?: string): Promise<{ ui: WalletUiHandle; port: number; walletPath: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-wallet-ui-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const walletPath = join(dir, 'wallet.json');
  await createWallet(walletPath, { mnemonic: generateMnemonic(new Uint8Array(32).fill(7)), passphrase: PASSPHRASE, kdf: FAST_KDF });
  // Port 9 (discard) on loopback: nothing answers, which these tests never need.
  const ui = await startWalletUi({ walletPath, gatewayUrl: 'http://127.0.0.1:9', ...(chainRpcUrl !== undefined ? { chainRpcUrl } : {}) });
  t.teardown(() => ui.stop());
  return { ui, port: ui.port, walletPath };
}

t.test('listens on 127.0.0.1 only: other hosts are refused before listening, and no other interface answers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-wallet-ui-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const walletPath = join(dir, 'wallet.json');
  await createWallet(walletPath, { mnemonic: generateMnemonic(new Uint8Array(32).fill(8)), passphrase: PASSPHRASE, kdf: FAST_KDF });
  for (const host of ['0.0.0.0', '::', '::1', 'localhost', '192.168.1.10']) {
    await t.rejects(startWalletUi({ walletPath, gatewayUrl: 'http://127.0.0.1:9', host }), { code: 'UI_HOST_REFUSED', message: /127\.0\.0\.1 only/ }, `host ${host} refused`);
  }
  await t.rejects(startWalletUi({ walletPath: join(dir, 'missing.json'), gatewayUrl: 'http://127.0.0.1:9' }), { code: 'KEYSTORE_MISSING' }, 'a missing wallet file is said at start');

  const ui = await startWalletUi({ walletPath, gatewayUrl: 'http://127.0.0.1:9' });
  t.teardown(() => ui.stop());
  t.match(ui.url, new RegExp(`^http://127\\.0\\.0\\.1:${ui.port}/$`));
  const external = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
  if (external === undefined) {
    t.comment('no non-loopback IPv4 interface on this machine: the cross-interface check is not possible here');
  } else {
    const refused = await new Promise<string>((resolve) => {
      const req = request({ host: external.address, port: ui.port, path: '/', timeout: 5000 }, () => resolve('answered'));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    t.equal(refused, 'ECONNREFUSED', `nothing listens on ${external.address}:${ui.port}`);
  }
  t.ok(new WalletUiError('UI_HOST_REFUSED', 'x') instanceof Error);
});

t.test('the page and its assets, with a CSP that allows only this origin; session says locked', async (t) => {
  const { port, walletPath } = await fixture(t);
  const page = await call(port, 'GET', '/');
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.headers['content-security-policy'], /default-src 'none'; script-src 'self'/);
  t.match(page.headers['content-security-policy'], /frame-ancestors 'none'/);
  t.notMatch(page.body, /https?:\/\/(?!127\.0\.0\.1)/, 'the page names no other origin');
  for (const asset of ['/ui/viewer.js', '/ui/viewer.css']) t.equal((await call(port, 'GET', asset)).status, 200, asset);
  const session = await call(port, 'GET', '/api/session');
  t.same({ unlocked: session.json.unlocked, ownerAddress: session.json.ownerAddress, walletPath: session.json.walletPath }, { unlocked: false, ownerAddress: null, walletPath });
});

t.test('unlock: a wrong passphrase is a clear 401 and no cookie; the right one sets an HttpOnly SameSite=Strict session cookie', async (t) => {
  const { ui, port } = await fixture(t);
  const wrong = await call(port, 'POST', '/api/unlock', { body: { passphrase: 'not it' } });
  t.equal(wrong.status, 401);
  t.equal(wrong.json.error?.code, 'WRONG_PASSPHRASE');
  t.match(wrong.json.error?.message, /passphrase/i);
  t.equal(wrong.headers['set-cookie'], undefined, 'no cookie for a wrong passphrase');
  t.equal(ui.unlocked(), false);
  const empty = await call(port, 'POST', '/api/unlock', { body: {} });
  t.equal(empty.status, 400, 'no passphrase at all: 400');

  const right = await call(port, 'POST', '/api/unlock', { body: { passphrase: PASSPHRASE } });
  t.equal(right.status, 200);
  t.equal(right.json.unlocked, true);
  t.match(right.json.ownerAddress, /^1/);
  const setCookie = String(right.headers['set-cookie']);
  t.match(setCookie, new RegExp(`^carchain_wallet_${port}=[A-Za-z0-9_-]{43};`), 'a 32-byte random token, the cookie named by the port');
  t.match(setCookie, /; HttpOnly/);
  t.match(setCookie, /; SameSite=Strict/);
  t.equal(ui.unlocked(), true);
  const session = await call(port, 'GET', '/api/session', { headers: { cookie: cookieOf(right) } });
  t.equal(session.json.unlocked, true);
  t.equal(session.json.ownerAddress, right.json.ownerAddress);
  t.notMatch(JSON.stringify(right.json) + JSON.stringify(session.json), /mnemonic|private|root/i, 'no key material in the answers');
});

t.test('every data route needs this unlock\'s session cookie', async (t) => {
  const { port } = await fixture(t);
  const routes: [string, string, unknown?][] = [
    ['GET', '/api/trips'], ['GET', '/api/trips/0-20261122020522-1'], ['GET', '/api/day-records?day=2026-11-22'], ['GET', '/api/grants'],
    ['POST', '/api/grants', { grantee: '1BoatSLRHtKNngkdXEeobR76b53LETtpyT' }], ['POST', `/api/grants/${'ab'.repeat(32)}/revoke`, {}], ['POST', '/api/lock', {}],
  ];
  for (const [method, path, body] of routes) {
    const a = await call(port, method, path, body === undefined ? {} : { body });
    t.equal(a.status, 401, `${method} ${path} while locked: 401`);
    t.equal(a.json.error?.code, 'LOCKED');
  }
  const unlocked = await call(port, 'POST', '/api/unlock', { body: { passphrase: PASSPHRASE } });
  const cookie = cookieOf(unlocked);
  for (const [method, path, body] of routes.slice(0, -1)) {
    const a = await call(port, method, path, body === undefined ? { headers: { cookie: `${cookie.split('=')[0]}=${'A'.repeat(43)}` } } : { body, headers: { cookie: `${cookie.split('=')[0]}=${'A'.repeat(43)}` } });
    t.equal(a.status, 401, `${method} ${path} with a forged cookie: 401`);
    const none = await call(port, method, path, body === undefined ? {} : { body });
    t.equal(none.status, 401, `${method} ${path} unlocked but without the cookie: 401`);
  }
  // With the cookie the guard lets the request through to the wallet: this one has no paired device.
  const trips = await call(port, 'GET', '/api/trips', { headers: { cookie } });
  t.equal(trips.json.error?.code, 'NO_DEVICES', 'with the session the request reaches the wallet');
  const grants = await call(port, 'GET', '/api/grants', { headers: { cookie } });
  t.equal(grants.status, 503);
  t.equal(grants.json.error?.code, 'CHAIN_UNKNOWN', 'no chain given: grants say so');
});

t.test('foreign Host (DNS rebinding) and foreign Origin / cross-site requests are refused, even with the cookie', async (t) => {
  const { port } = await fixture(t);
  const cookie = cookieOf(await call(port, 'POST', '/api/unlock', { body: { passphrase: PASSPHRASE } }));
  const rebinding = await call(port, 'GET', '/api/trips', { host: `evil.example:${port}`, headers: { cookie } });
  t.equal(rebinding.status, 421);
  t.equal(rebinding.json.error?.code, 'HOST_REFUSED');
  t.equal((await call(port, 'GET', '/', { host: `evil.example:${port}` })).status, 421, 'not even the page for a rebinding name');
  t.equal((await call(port, 'GET', '/api/session', { host: '127.0.0.1:1' })).status, 421, 'another port in Host');
  t.equal((await call(port, 'GET', '/api/session', { host: `localhost:${port}` })).status, 200, 'localhost:port is this server too');

  for (const origin of [`http://127.0.0.1:${port + 1 === 65536 ? 1 : port + 1}`, 'http://evil.example', `https://127.0.0.1:${port}`, 'null']) {
    const get = await call(port, 'GET', '/api/trips', { headers: { cookie, origin } });
    t.equal(get.status, 403, `GET from ${origin}: 403`);
    t.equal(get.json.error?.code, 'ORIGIN_REFUSED');
    const post = await call(port, 'POST', '/api/lock', { body: {}, headers: { cookie, origin } });
    t.equal(post.status, 403, `POST from ${origin}: 403`);
  }
  const crossSite = await call(port, 'GET', '/api/trips', { headers: { cookie, 'sec-fetch-site': 'same-site' } });
  t.equal(crossSite.status, 403, 'Sec-Fetch-Site: same-site (another port of 127.0.0.1) refused');
  const noOrigin = await call(port, 'POST', '/api/lock', { body: {}, headers: { cookie }, noOrigin: true });
  t.equal(noOrigin.status, 403, 'a POST without Origin is refused');
  const form = await call(port, 'POST', '/api/lock', { body: 'x=1', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(form.status, 415, 'a form post (no preflight) is refused');
  t.equal(form.json.error?.code, 'JSON_REQUIRED');
  const ok = await call(port, 'GET', '/api/session', { headers: { cookie, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' } });
  t.equal(ok.json.unlocked, true, 'the page itself still gets through, and the session is intact');
});

t.test('lock forgets the keys: the old cookie stops working, the browser is told to drop it, a new unlock gets a new token', async (t) => {
  const { ui, port } = await fixture(t);
  const first = cookieOf(await call(port, 'POST', '/api/unlock', { body: { passphrase: PASSPHRASE } }));
  const locked = await call(port, 'POST', '/api/lock', { body: {}, headers: { cookie: first } });
  t.equal(locked.status, 200);
  t.match(String(locked.headers['set-cookie']), /Max-Age=0/);
  t.equal(ui.unlocked(), false, 'the server holds no wallet');
  const after = await call(port, 'GET', '/api/trips', { headers: { cookie: first } });
  t.equal(after.status, 401);
  t.equal(after.json.error?.code, 'LOCKED');
  t.equal((await call(port, 'GET', '/api/session', { headers: { cookie: first } })).json.unlocked, false);
  const second = cookieOf(await call(port, 'POST', '/api/unlock', { body: { passphrase: PASSPHRASE } }));
  t.not(second, first, 'a fresh token per unlock');
  t.equal((await call(port, 'GET', '/api/trips', { headers: { cookie: first } })).status, 401, 'the old token stays dead');
  t.equal((await call(port, 'GET', '/api/trips', { headers: { cookie: second } })).json.error?.code, 'NO_DEVICES');
});

t.test('`wallet ui` as a process: prints the URL, serves the page with the wallet\'s global options, stops on SIGTERM', async (t) => {
  t.setTimeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-wallet-ui-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const walletPath = join(dir, 'wallet.json');
  await createWallet(walletPath, { mnemonic: generateMnemonic(new Uint8Array(32).fill(9)), passphrase: PASSPHRASE, kdf: FAST_KDF });
  // The command as `carchain wallet` registers it (the global options live on `wallet`), until wallet.ts wires it in.
  const driver = [
    "import { Command } from 'commander';",
    `const { registerWalletUiCommand } = await import(${JSON.stringify(fileURLToPath(new URL('../../../tools/cli/commands/wallet-ui.ts', import.meta.url)))});`,
    "const wallet = new Command('carchain').exitOverride().command('wallet').option('--wallet <file>').option('--passphrase-file <file>').option('--gateway <url>').option('--chain <url>');",
    'registerWalletUiCommand(wallet);',
    "try { await wallet.parent.parseAsync(process.argv.slice(1), { from: 'user' }); } catch (err) { process.stderr.write(`${err.code}: ${err.message}\\n`); process.exitCode = err.code === 'USAGE' || err.exitCode === 1 ? 2 : 1; }",
  ].join('\n');
  const run = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', driver, '--', ...args], { cwd: fileURLToPath(new URL('../../../', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });

  const child = run(['wallet', '--wallet', walletPath, '--gateway', 'http://127.0.0.1:9', 'ui', '--json']);
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const stderr: string[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr.join('')}`)));
  });
  const { url } = JSON.parse(line) as { url: string };
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'prints the loopback URL');
  const port = Number(new URL(url).port);
  const session = await call(port, 'GET', '/api/session');
  t.equal(session.json.walletPath, walletPath, 'serves the --wallet file');
  t.equal(session.json.gatewayUrl, 'http://127.0.0.1:9', 'with the --gateway option');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM stops it cleanly');

  const bad = run(['wallet', '--wallet', walletPath, 'ui', '--port', '99999']);
  const badErr: string[] = [];
  bad.stderr.on('data', (c: Buffer) => badErr.push(c.toString()));
  t.equal(await new Promise((resolve) => bad.once('exit', resolve)), 2, 'a bad --port is a usage error');
  t.match(badErr.join(''), /--port must be an integer/);
});
