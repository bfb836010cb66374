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
});
