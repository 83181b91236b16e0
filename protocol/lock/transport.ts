// The seam between the lock protocol and a link: TCP on 127.0.0.1 today (the BLE stand-in), an MQTT relay later.

/**
 * One bidirectional, ordered, message-preserving link between a wallet and a lock. A relay
 * transport (MQTT) implements the same three calls; nothing above it changes.
 */
export interface LockTransport {
  send(frame: Uint8Array): Promise<void>;
  /** The next frame; rejects with LockError('TRANSPORT_CLOSED') on close or after timeoutMs. */
  receive(timeoutMs?: number): Promise<Uint8Array>;
  close(): Promise<void>;
}
