export function chromiumPath(): string;
export function ensureBuilt(): Promise<void>;
export function ensureChromium(): void;
