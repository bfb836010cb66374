// Narrow declaration of `ari-client` (CommonJS, no types of its own). The product reaches it
// only through src/telephony/ari-link.ts, which narrows the client further.
declare module 'ari-client' {
  interface AriClient {
    on(event: string, listener: (...args: unknown[]) => void): this;
    removeAllListeners(event?: string): this;
    start(apps: string | string[], subscribeAll?: boolean): Promise<void>;
    stop(): void;
    [resource: string]: unknown;
  }
  const ari: { connect(url: string, user: string, password: string): Promise<AriClient> };
  export default ari;
}
