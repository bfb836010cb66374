/**
 * "dd.mm hh:mm" in a time zone, for the command line: the same text as the domain's
 * `formatLocal`, read from a Date's fields with the process's TZ set to that zone. That needs
 * only the zone's rules, while an Intl formatter also loads locale data, which costs a short
 * command most of its start-up. It changes the process's time zone: for a process of its own
 * (the command line), not for the service.
 */
export function localTime(iso: string, timeZone: string): string {
  if (process.env.TZ !== timeZone) process.env.TZ = timeZone;
  const d = new Date(iso);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getDate())}.${two(d.getMonth() + 1)} ${two(d.getHours())}:${two(d.getMinutes())}`;
}
