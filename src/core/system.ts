import { randomBytes, randomInt } from 'node:crypto';
import type { Clock, Random } from './ports.ts';

export const systemClock: Clock = { now: () => new Date() };

export const cryptoRandom: Random = {
  int: (max) => randomInt(max),
  bytes: (n) => randomBytes(n),
};
