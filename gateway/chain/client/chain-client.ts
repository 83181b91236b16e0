// HTTP client of a chain node's RPC, used by the gateway, the wallet, the dongle, the lock and the CLI: submit and await commit, query, fetch proofs.
//
// Several RPC URLs may be given: a request that cannot reach one node (connection refused, timeout,
// 5xx) is tried on the next, so a client survives the loss of validators as the chain does.
import { CarchainError } from '../../../protocol/errors.js';
import type { ProofFile } from '../light/proof-file.js';
import { encodeTxBatch } from '../node/tx-batch.js';

/** Transactions and bytes per POST /txs request (the node takes up to 2,000 txs and 8 MiB). */
const SUBMIT_MANY_CHUNK = 1000;
const SUBMIT_MANY_BYTES = 4 * 1024 * 1024;

export type ChainClientErrorCode = 'UNREACHABLE' | 'TX_REJECTED' | 'COMMIT_TIMEOUT' | 'NOT_FOUND' | 'BAD_REQUEST' | 'BAD_RESPONSE' | 'MEMPOOL_FULL';

export class ChainClientError extends CarchainError<ChainClientErrorCode> {
  constructor(code: ChainClientErrorCode, message: string, readonly reason?: string, options: { temporary?: boolean; mayHaveSucceeded?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

export interface ChainStatus {
  chainId: string;
  address: string;
  height: number;
  lastBlockHash: string | null;
  lastBlockTime: number | null;
  appHash: string;
  validators: { address: string; publicKey: string; power: number }[];
  mempool: { txs: number; bytes: number };
}

export interface BlockJson {
  blockId: string;
  header: Record<string, unknown> & { height: number; time: number; txCount: number };
  headerHex: string;
  txs: string[];
  commit: { height: number; round: number; valueId: string; precommits: { validator: string; signature: string }[] };
  commitHex: string;
  validatorsHex: string;
}

export interface SubmitResult {
  txId: string;
  height?: number;
  index?: number;
}

/** One tx of submitMany: its id (and where it committed, when waited for), or why it was refused or not seen committed. */
export type BatchSubmitResult =
  | SubmitResult & { error?: undefined }
  | { txId?: string; error: { code: string; message: string; reason?: string; temporary: boolean } };

interface ErrorBody {
  error?: { code?: string; message?: string; reason?: string; detail?: string; temporary?: boolean };
}

export class ChainClient {
  private preferred = 0;

  constructor(private readonly urls: readonly string[], private readonly timeoutMs = 10_000) {
    if (urls.length === 0) throw new ChainClientError('BAD_REQUEST', 'no chain RPC URL given');
  }

  status(): Promise<ChainStatus> {
    return this.call<ChainStatus>('GET', '/status');
  }

  block(height?: number): Promise<BlockJson> {
    return this.call<BlockJson>('GET', height === undefined ? '/block' : `/block?height=${height}`);
  }

  /** Submits a signed transaction; with `waitForCommit` resolves once it is in a committed block. */
  submit(tx: Uint8Array, options: { waitForCommit?: boolean; timeoutMs?: number } = {}): Promise<SubmitResult> {
    const wait = options.waitForCommit === true;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const path = wait ? `/tx?wait=commit&timeoutMs=${timeoutMs}` : '/tx';
    // Re-submitting to another node is safe: a tx id is unique and a committed one is refused as a replay.
    return this.call<SubmitResult>('POST', path, tx, wait ? timeoutMs + 5000 : undefined);
  }

  /**
   * Submits many signed transactions with one request per 1,000 (or 4 MiB; POST /txs): one result per tx, in
   * order. A refused tx does not fail the others; it comes back with `error` (code TX_REJECTED with
   * the application's `reason`, MEMPOOL_FULL, or COMMIT_TIMEOUT when waiting).
   */
  async submitMany(txs: readonly Uint8Array[], options: { waitForCommit?: boolean; timeoutMs?: number } = {}): Promise<BatchSubmitResult[]> {
    const wait = options.waitForCommit === true;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const path = wait ? `/txs?wait=commit&timeoutMs=${timeoutMs}` : '/txs';
    const out: BatchSubmitResult[] = [];
    for (let i = 0; i < txs.length;) {
      let end = i;
      let bytes = 0;
      while (end < txs.length && end - i < SUBMIT_MANY_CHUNK && (end === i || bytes + txs[end]!.length <= SUBMIT_MANY_BYTES)) bytes += txs[end++]!.length + 3;
      const reply = await this.call<{ results: BatchSubmitResult[] }>('POST', path, encodeTxBatch(txs.slice(i, end)), wait ? timeoutMs + 5000 : undefined);
      out.push(...reply.results);
      i = end;
    }
    return out;
  }

  tx(txId: string): Promise<SubmitResult & { pending?: boolean }> {
    return this.call('GET', `/tx/${txId}`);
  }

  txProof(txId: string): Promise<ProofFile> {
    return this.call<ProofFile>('GET', `/proof/tx/${txId}`);
  }

  /** Application state: e.g. query('vehicle/<vidHash>'), query('grants', {grantee: addr}). */
  query<T = unknown>(path: string, params: Record<string, string> = {}): Promise<T> {
    const qs = new URLSearchParams(params).toString();
    return this.call<T>('GET', `/query/${path}${qs === '' ? '' : `?${qs}`}`);
  }

  private async call<T>(method: string, path: string, body?: Uint8Array, timeoutMs = this.timeoutMs): Promise<T> {
    let lastError: unknown;
    // Each node gets two tries: a kept-alive socket the server closed while idle fails the first
    // request on it without the request having been processed.
    for (let attempt = 0; attempt < 2 * this.urls.length; attempt++) {
      const index = (this.preferred + Math.floor(attempt / 2)) % this.urls.length;
      const url = `${this.urls[index]!.replace(/\/$/, '')}${path}`;
      let res: Response;
      try {
        res = await fetch(url, {
          method, signal: AbortSignal.timeout(timeoutMs),
          ...(body !== undefined ? { body, headers: { 'content-type': 'application/octet-stream' } } : {}),
        });
      } catch (cause) {
        lastError = cause;
        continue;
      }
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (cause) {
        throw new ChainClientError('BAD_RESPONSE', `${method} ${url}: not JSON (HTTP ${res.status})`, undefined, { cause });
      }
      if (res.status >= 500 && res.status !== 504) {
        lastError = new Error(`HTTP ${res.status}`);
        if ((json as ErrorBody).error?.code === 'MEMPOOL_FULL') throw new ChainClientError('MEMPOOL_FULL', 'mempool full', undefined, { temporary: true });
        continue;
      }
      this.preferred = index;
      if (res.ok) return json as T;
      const e = (json as ErrorBody).error ?? {};
      const message = `${method} ${path}: ${e.message ?? `HTTP ${res.status}`}`;
      if (res.status === 504) throw new ChainClientError('COMMIT_TIMEOUT', message, undefined, { temporary: true, mayHaveSucceeded: true });
      if (res.status === 404) throw new ChainClientError('NOT_FOUND', message);
      if (e.code === 'TX_REJECTED') throw new ChainClientError('TX_REJECTED', `${e.reason ?? 'REJECTED'}: ${e.detail ?? message}`, e.reason);
      throw new ChainClientError('BAD_REQUEST', message, e.code);
    }
    throw new ChainClientError('UNREACHABLE', `no chain node reachable (${this.urls.join(', ')}): ${lastError instanceof Error ? lastError.message : String(lastError)}`, undefined, {
      temporary: true, mayHaveSucceeded: method === 'POST', cause: lastError,
    });
  }
}
