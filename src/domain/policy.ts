import type { Channel } from './types.ts';

/**
 * Which requests need dynamic authentication (an OTP sent to the trusted number and entered
 * back on the same channel). Caller ID and SMS sender can be forged: they identify, the code
 * authorises. Operators are authenticated by their own credentials instead.
 */
export interface AuthPolicy {
  /** Actions that are sensitive on client channels. Default: disarm. */
  otpActions: readonly string[];
}

export const DEFAULT_POLICY: AuthPolicy = { otpActions: ['disarm'] };

export function needsOtp(policy: AuthPolicy, channel: Channel, action: string): boolean {
  if (channel === 'operator' || channel === 'system' || channel === 'monitoring') return false;
  return policy.otpActions.includes(action);
}
