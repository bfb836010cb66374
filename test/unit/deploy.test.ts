import { readFileSync } from 'node:fs';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

describe('deployment files', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');

  it('the Dockerfile passes the linter', () => {
    expect(validate(dockerfile).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('builds in two stages, runs as a non-root user, checks /health, bakes in no secret', () => {
    expect(dockerfile.match(/^FROM node:20[\w.-]*slim AS (build|runtime)$/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/health/m);
    expect(dockerfile).toMatch(/COPY --chown=node:node prompts \.\/prompts/);
    const instructions = dockerfile.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    expect(instructions).not.toMatch(/ZHEDEL_(SECRET|SMPP_PASSWORD|ARI_PASSWORD|AMI_SECRET|MONITORING_KEY)/);
  });

  it('compose mounts the dialplan and the prompts into Asterisk and keeps data in a volume', () => {
    const compose = readFileSync('compose.yaml', 'utf8');
    for (const f of ['extensions.conf', 'pjsip.conf', 'ari.conf', 'http.conf', 'manager.conf']) expect(compose).toContain(`./dialplan/${f}:/etc/asterisk/${f}:ro`);
    expect(compose).toContain('./prompts/kk:/var/lib/asterisk/sounds/zhedel/kk:ro');
    expect(compose).toContain('zhedel-data:/data');
  });

  it('every SIP endpoint on the public transport authenticates or is matched by the trunk\'s address', () => {
    const sections: Array<{ name: string; keys: Record<string, string> }> = [];
    for (const raw of readFileSync('dialplan/pjsip.conf', 'utf8').split('\n')) {
      const line = raw.replace(/;.*$/, '').trim();
      const head = /^\[([^\]]+)\]$/.exec(line);
      if (head) sections.push({ name: head[1] as string, keys: {} });
      const kv = /^([\w-]+)\s*=\s*(.*)$/.exec(line);
      if (kv && sections.length) (sections[sections.length - 1] as { keys: Record<string, string> }).keys[kv[1] as string] = kv[2] as string;
    }
    const endpoints = sections.filter((s) => s.keys.type === 'endpoint');
    expect(endpoints.map((e) => e.name)).toEqual(['trunk', 'operators']);
    for (const e of endpoints) {
      const byAddress = sections.some((s) => s.keys.type === 'identify' && s.keys.endpoint === e.name && s.keys.match);
      const auth = e.keys.auth ? sections.find((s) => s.name === e.keys.auth && s.keys.type === 'auth') : undefined;
      expect({ endpoint: e.name, authenticated: byAddress || (auth !== undefined && (auth.keys.password ?? '').length > 0) }).toEqual({ endpoint: e.name, authenticated: true });
    }
  });
});
