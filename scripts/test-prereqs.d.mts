export function chromiumPath(): string;
export function ensureBuilt(): Promise<void>;
export function ensureChromium(): void;

export interface PostgresPrograms {
  initdb: string;
  pgCtl: string;
}
export interface TestPostgres {
  /** URL of the server's admin database (the postgres database), for ZHEDEL_TEST_PG. */
  url: string;
  /** `SHOW server_version`. */
  version: string;
  /** Stops and removes a throw-away cluster (nothing for a given server); synchronous, idempotent. */
  stop(): void;
  /** A throw-away cluster only: stops the server (fast shutdown), keeping its data and port. */
  down?(): void;
  /** A throw-away cluster only: starts the server again after `down`. */
  up?(): void;
}
export function postgresRequired(): boolean;
export function findPostgresPrograms(): PostgresPrograms | null;
export function ensurePostgresPrograms(): PostgresPrograms | null;
export interface ClusterOptions {
  /** Server settings (`-c name=value`) over the defaults fsync=off, max_connections=200; e.g. { fsync: 'on' }. */
  settings?: Record<string, string>;
}
export function startCluster(programs: PostgresPrograms, options?: ClusterOptions): Promise<TestPostgres>;
export function stopCluster(cluster: { dir: string; pgCtl: string }): void;
export function postgresForTests(): Promise<TestPostgres | null>;
