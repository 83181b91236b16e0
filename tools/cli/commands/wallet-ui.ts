// `carchain wallet ui`: the owner's trip viewer in a browser, served on 127.0.0.1 by this process (which alone holds the unlocked keys).
//
// Thin over tools/wallet/ui/wallet-ui-server.ts. The passphrase is typed into the page, not here:
// the wallet's --passphrase-file is not used. Runs until Ctrl-C (or SIGTERM).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CarchainError } from '../../../protocol/errors.js';
import { DEFAULT_GATEWAY_URL } from '../../wallet/owner-wallet.js';
import { startWalletUi } from '../../wallet/ui/wallet-ui-server.js';
import { DEFAULT_WALLET_PATH, readWalletMeta } from '../../wallet/wallet-keystore.js';

interface WalletGlobals {
  wallet?: string;
  gateway?: string;
  chain?: string;
}

/** Hands the URL to the desktop's browser; failing to is not an error (the URL is printed anyway). */
function openInBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(command, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => process.stderr.write(`carchain: could not start ${command}; open ${url} yourself\n`));
    child.unref();
  } catch {
    process.stderr.write(`carchain: could not start ${command}; open ${url} yourself\n`);
  }
}

export function registerWalletUiCommand(wallet: Command): void {
  wallet
    .command('ui')
    .description('the trip viewer: trips by day with maps, DTCs and maintenance, grants — in your browser, served on 127.0.0.1 only')
    .option('--port <n>', 'port on 127.0.0.1 (default: any free one)', '0')
    .option('--open', "open the page in the desktop's browser")
    .option('--json', 'print {"url": …} as JSON instead of a sentence')
    .addHelpText('after', [
      '',
      'The page asks for the wallet passphrase; the keys stay in this process. Stop with Ctrl-C.',
      '',
      'Example:',
      '  $ carchain wallet --wallet w.json --gateway http://127.0.0.1:8080 --chain http://127.0.0.1:26657 ui --port 8790 --open',
    ].join('\n'))
    .action(async (opts: { port: string; open?: boolean; json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<WalletGlobals>();
      if (!/^\d+$/.test(opts.port) || Number(opts.port) > 65535) throw new CarchainError('USAGE', '--port must be an integer in 0..65535');
      const walletPath = resolve(g.wallet ?? DEFAULT_WALLET_PATH);
      const meta = readWalletMeta(walletPath);
      const chainRpcUrl = g.chain ?? meta.chainRpcUrl;
      const ui = await startWalletUi({
        walletPath, gatewayUrl: g.gateway ?? meta.gatewayUrl ?? DEFAULT_GATEWAY_URL, port: Number(opts.port),
        ...(chainRpcUrl !== undefined ? { chainRpcUrl } : {}),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify({ url: ui.url })}\n`);
      else process.stdout.write(`trip viewer at ${ui.url} (127.0.0.1 only; Ctrl-C to stop)\n`);
      if (opts.open) openInBrowser(ui.url);
      await new Promise<void>((done) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
      });
      await ui.stop();
    });
}
